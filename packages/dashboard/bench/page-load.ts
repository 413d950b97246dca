/**
 * The page's own cost at 10,000 peers, in Debian's chromium: a stand-in server feeds
 * the real dashboard handler synthetic peers (heartbeats every 2 s with RTT samples,
 * a few suspects and deaths); the page is opened headless and we measure the time to
 * the first full table, main-thread long tasks (> 50 ms) while deltas stream in, and
 * the cost of scrolling, sorting and filtering.
 *
 *   pnpm exec tsx packages/dashboard/bench/page-load.ts [--peers 10000] [--seconds 10]
 */
import { parseArgs } from 'node:util';
import { RTT_HISTORY, type Cause, type HeartbeatConfig, type PeerState, type StateChange } from '@vigil/core';
import type { PeerInfo, VigilServer } from '@vigil/server';
import { chromium } from 'playwright-core';
import { Subject } from 'rxjs';
import { serveDashboard } from '../src/index.js';

const { values } = parseArgs({ options: { peers: { type: 'string', default: '10000' }, seconds: { type: 'string', default: '10' } } });
const PEERS = Number(values.peers);
const INTERVAL = 2000;

interface Sim {
  info: { -readonly [K in keyof PeerInfo]: PeerInfo[K] };
  lastSeen: number;
  samples: number[];
}

const changes = new Subject<StateChange>();
const now = (): number => performance.timeOrigin + performance.now();
const peers: Sim[] = [];
for (let i = 0; i < PEERS; i++) {
  const t = now();
  peers.push({
    lastSeen: t - Math.random() * INTERVAL,
    samples: [],
    info: {
      id: `player-${String(i).padStart(5, '0')}`,
      sessionId: `s-${i}`,
      transport: i % 2 === 0 ? 'tcp' : 'ws',
      remote: `10.1.${(i >> 8) & 255}.${i & 255}:${20000 + (i % 40000)}`,
      state: 'alive',
      cause: null,
      rttMs: null,
      rttVarMs: null,
      rttSamples: [],
      clockOffsetMs: 0,
      lastSeenMs: 0,
      intervalMs: INTERVAL,
      timeoutMs: 3 * INTERVAL,
      connectedAt: t,
      since: t,
      reconnects: 0,
    },
  });
}

function setState(p: Sim, to: PeerState, cause: Cause | null): void {
  const at = now();
  changes.next({ peerId: p.info.id, from: p.info.state, to, cause, at, silenceMs: at - p.lastSeen });
  p.info.state = to;
  p.info.cause = cause;
  p.info.since = at;
}

const churn = setInterval(() => {
  const t = now();
  for (const p of peers) {
    if (p.info.state !== 'alive' || t - p.lastSeen < INTERVAL) continue;
    p.lastSeen = t;
    const rtt = Math.round((3 + 25 * Math.random() ** 3) * 1000) / 1000;
    p.samples = [...p.samples, rtt].slice(-RTT_HISTORY);
    p.info.rttMs = p.info.rttMs === null ? rtt : 0.875 * p.info.rttMs + 0.125 * rtt;
    p.info.rttVarMs = rtt / 4;
    p.info.rttSamples = p.samples;
  }
  const p = peers[Math.floor(Math.random() * PEERS)]!;
  if (p.info.state === 'alive') setState(p, Math.random() < 0.2 ? 'dead' : 'suspect', 'heartbeat-timeout');
  else if (p.info.state === 'suspect') setState(p, 'alive', null);
}, 50);

const config: HeartbeatConfig = { intervalMs: INTERVAL, timeoutMs: 3 * INTERVAL, suspectAfterMs: 3000, jitter: 0.1, tickMs: 50, handshakeTimeoutMs: 5000, minIntervalMs: 100, maxIntervalMs: 60000 };
const standIn = {
  config,
  changes$: changes.asObservable(),
  rttSamples$: new Subject<number>(),
  peers: new Map(),
  connectionCount: PEERS,
  engine: { now, stats: { pingsSent: 0, pongsReceived: 0 } },
  snapshot: (): PeerInfo[] => {
    const t = now();
    return peers.map((p) => ({ ...p.info, lastSeenMs: Math.round(p.info.state === 'dead' ? p.info.since - p.lastSeen : t - p.lastSeen) }));
  },
} as unknown as VigilServer<unknown, unknown>;

const dash = await serveDashboard(standIn, { port: 0, kernelIntervalMs: 0 });
const browser = await chromium.launch({ executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  await page.addInitScript(() => {
    const w = window as unknown as { longTasks: number[] };
    w.longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.longTasks.push(e.duration);
    }).observe({ type: 'longtask', buffered: true });
  });
  const opened = performance.now();
  await page.goto(dash.url);
  await page.waitForFunction((n) => document.getElementById('count')?.textContent === `${n.toLocaleString('en-US')} of ${n.toLocaleString('en-US')}`, PEERS, { timeout: 30_000 });
  const firstRender = performance.now() - opened;
  const rowsInDom = await page.locator('.row').count();
  await page.evaluate(() => ((window as unknown as { longTasks: number[] }).longTasks.length = 0));
  await page.waitForTimeout(Number(values.seconds) * 1000);
  const longTasks = await page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks);

  const timed = async (what: string, action: () => Promise<unknown>): Promise<string> => {
    const t = performance.now();
    await action();
    return `${what} ${(performance.now() - t).toFixed(0)} ms`;
  };
  const interactions = [
    await timed('scroll to the middle', () => page.evaluate(() => new Promise((r) => {
      const body = document.getElementById('tbody')!;
      body.scrollTop = body.scrollHeight / 2;
      requestAnimationFrame(() => requestAnimationFrame(r));
    }))),
    await timed('sort by RTT', async () => {
      await page.click('.th[data-sort="rtt"]');
      await page.waitForSelector('.th[data-sort="rtt"].active');
    }),
    await timed('filter "player-0999"', async () => {
      await page.fill('#filter', 'player-0999');
      await page.waitForFunction(() => document.getElementById('count')?.textContent?.startsWith('10 of'));
    }),
  ];
  const jsHeap = await page.evaluate(() => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0);
  process.stdout.write(
    `${PEERS} peers: first full table ${firstRender.toFixed(0)} ms; ${rowsInDom} row elements in the DOM; ` +
      `${longTasks.length} long tasks (> 50 ms) in ${values.seconds} s of live updates${longTasks.length ? `, longest ${Math.max(...longTasks).toFixed(0)} ms` : ''}; ` +
      `${interactions.join(', ')}; JS heap ${(jsHeap / 1024 / 1024).toFixed(0)} MiB\n`,
  );
} finally {
  clearInterval(churn);
  await browser.close();
  await dash.close();
}
