/**
 * A local demo of the dashboard: a server with ~30 peers over TCP and WebSocket, one
 * child process frozen and thawed in a loop (it flips to suspect), one frozen for good,
 * one killed, one closed in order, and every few seconds a peer that reconnects.
 * `--screenshot PATH` saves a picture and exits.
 *
 *   pnpm exec tsx packages/dashboard/scripts/demo.ts [--port 8080] [--screenshot test-output/demo.png]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { VigilClient } from '@vigil/client';
import { chromium } from 'playwright-core';
import { VigilServer } from '@vigil/server';
import { serveDashboard } from '../src/index.js';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, screenshot: { type: 'string' } } });
const children: ChildProcess[] = [];
const clients: VigilClient[] = [];

const server = new VigilServer({ tcp: { port: 0 }, ws: { port: 0 }, heartbeat: { intervalMs: 500, timeoutMs: 2000 } });
const ports = await server.listen();
const dash = await serveDashboard(server, { port: Number(values.port) });
process.stdout.write(`dashboard: ${dash.url}\n`);

const fixture = fileURLToPath(new URL('../test/fixtures/child-client.ts', import.meta.url));
const repo = fileURLToPath(new URL('../../..', import.meta.url));

function child(id: string): Promise<ChildProcess> {
  const p = spawn(process.execPath, ['--import', 'tsx', fixture, `tcp://127.0.0.1:${ports.tcp}`, id], { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(p);
  return new Promise((resolve) => p.stdout!.once('data', () => resolve(p)));
}

const regions = ['eu', 'us', 'ap'];
for (let i = 0; i < 26; i++) {
  const ws = i % 3 === 0;
  const url = ws ? `ws://127.0.0.1:${ports.ws}` : `tcp://127.0.0.1:${ports.tcp}`;
  const c = new VigilClient(url, { id: `${ws ? 'player' : 'game'}-${regions[i % 3]}-${String(100 + i * 7)}` });
  clients.push(c);
  await c.connect();
}
const frozen = await child('game-eu-frozen');
const flapping = await child('player-us-flaky');
const doomed = await child('game-ap-crashed');
// One closes in order, one's process dies outright, one is frozen for good.
await clients[4]!.close();
doomed.kill('SIGKILL');
frozen.kill('SIGSTOP');
const flap = setInterval(() => {
  flapping.kill('SIGSTOP');
  setTimeout(() => flapping.kill('SIGCONT'), 1100);
}, 2200);

// A peer drops its connection and comes back under the same id: `reconnected` on the timeline.
let next = 0;
const churn = setInterval(() => {
  const i = 5 + (next++ % 20);
  const old = clients[i]!;
  void old.close().then(async () => {
    const c = new VigilClient(old.url.href, { id: old.peerId ?? `again-${i}` });
    clients[i] = c;
    await c.connect();
  });
}, 4000);

async function shutdown(): Promise<void> {
  clearInterval(flap);
  clearInterval(churn);
  for (const p of children) {
    p.kill('SIGCONT');
    p.kill('SIGKILL');
  }
  await Promise.all(clients.map((c) => c.close()));
  await dash.close();
  await server.close();
}

if (values.screenshot !== undefined) {
  const browser = await chromium.launch({ executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  const page = await browser.newPage({ viewport: { width: Number(process.env["DEMO_WIDTH"] ?? 1600), height: 1000 } });
  await page.goto(dash.url);
  await page.waitForSelector('.row[data-state="dead"]', { timeout: 10_000 });
  await page.locator('.row[data-id="game-eu-frozen"]').click();
  await page.waitForSelector('.row[data-state="suspect"]', { timeout: 10_000 });
  mkdirSync(dirname(values.screenshot), { recursive: true });
  await page.screenshot({ path: values.screenshot });
  await browser.close();
  await shutdown();
  process.stdout.write(`screenshot: ${values.screenshot}\n`);
} else {
  process.on('SIGINT', () => void shutdown().then(() => process.exit(0)));
}
