/**
 * What the dashboard stream costs at 10,000 peers: synthetic snapshots (heartbeats
 * with jitter, RTT samples, suspect/recover flaps, deaths and reconnects, kernel views)
 * go through the stream's own delta encoder and SSE framing, on a virtual clock, and
 * the bytes and messages a page would receive are counted. Also reports the encoder's
 * CPU time per tick (diff, JSON and SSE framing; not the server's `snapshot()`) and the
 * size of the full state a connecting page gets.
 *
 *   pnpm exec tsx packages/dashboard/bench/stream-cost.ts [--peers 10000] [--seconds 60]
 */
import { parseArgs } from 'node:util';
import { constants, createGzip, gzipSync } from 'node:zlib';
import { RTT_HISTORY, seededRandom, type Cause, type PeerState, type StateChange } from '@vigil/core';
import type { PeerInfo } from '@vigil/server';
import { sseMessage, type DeltaMessage, type Summary } from '../src/internal/live-feed.js';
import { StreamEncoder, type KernelView } from '../src/internal/stream-encoder.js';
import { toTimelineEvent, type TimelineEvent } from '../src/internal/timeline.js';

const { values } = parseArgs({
  options: { peers: { type: 'string', default: '10000' }, seconds: { type: 'string', default: '60' }, seed: { type: 'string', default: '1' } },
});
const PEERS = Number(values.peers);
const SECONDS = Number(values.seconds);
const TICK_MS = 250;

interface Scenario {
  readonly name: string;
  readonly intervalMs: number;
  /** Per peer per second. */
  readonly flapRate: number;
  readonly deathRate: number;
  /** A share of peers that die in one instant halfway through (a network partition). */
  readonly massDeath: number;
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'steady, interval 2 s (default)', intervalMs: 2000, flapRate: 0.001, deathRate: 0.0002, massDeath: 0 },
  { name: 'steady, interval 5 s', intervalMs: 5000, flapRate: 0.001, deathRate: 0.0002, massDeath: 0 },
  { name: 'busy, interval 1 s, 1% flaps/s', intervalMs: 1000, flapRate: 0.01, deathRate: 0.001, massDeath: 0 },
  { name: 'interval 2 s + 20% partition at once', intervalMs: 2000, flapRate: 0.001, deathRate: 0.0002, massDeath: 0.2 },
];

interface SimPeer {
  id: string;
  sessionId: string;
  transport: 'tcp' | 'ws';
  remote: string;
  state: PeerState;
  cause: Cause | null;
  since: number;
  connectedAt: number;
  lastSeen: number;
  nextBeat: number;
  srtt: number | null;
  rttvar: number | null;
  samples: number[];
  reconnects: number;
  kernel: KernelView;
}

async function run(s: Scenario, seed: number): Promise<void> {
  const random = seededRandom(seed);
  const timeoutMs = s.intervalMs * 3;
  let now = 1_700_000_000_000;
  let sessions = 0;
  const peers = new Map<string, SimPeer>();
  const retired: { info: PeerInfo; until: number }[] = [];
  const events: TimelineEvent[] = [];
  const change = (p: SimPeer, to: PeerState, cause: Cause | null): void => {
    const c: StateChange = { peerId: p.id, from: p.state, to, cause, at: now, silenceMs: now - p.lastSeen };
    p.state = to;
    p.cause = cause;
    p.since = now;
    const e = toTimelineEvent(c, p.reconnects);
    if (e) events.push(e);
  };
  const join = (id: string, reconnects: number): SimPeer => {
    const p: SimPeer = {
      id,
      sessionId: `session-${sessions++}`,
      transport: random() < 0.5 ? 'tcp' : 'ws',
      remote: `10.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}:${1024 + Math.floor(random() * 60000)}`,
      state: 'connecting',
      cause: null,
      since: now,
      connectedAt: now,
      lastSeen: now,
      nextBeat: now + random() * s.intervalMs,
      srtt: null,
      rttvar: null,
      samples: [],
      reconnects,
      kernel: { st: 'ESTABLISHED', txq: 0, rxq: 0, tmr: 'off', tmrAt: null, rtx: 0, prb: 0, ps: null, frozen: false },
    };
    peers.set(id, p);
    change(p, 'alive', null);
    return p;
  };
  const info = (p: SimPeer): PeerInfo => ({
    id: p.id,
    sessionId: p.sessionId,
    transport: p.transport,
    remote: p.remote,
    state: p.state,
    cause: p.cause,
    rttMs: p.srtt,
    rttVarMs: p.rttvar,
    rttSamples: p.samples,
    clockOffsetMs: 0,
    lastSeenMs: Math.round(now - p.lastSeen),
    intervalMs: s.intervalMs,
    timeoutMs,
    connectedAt: p.connectedAt,
    since: p.since,
    reconnects: p.reconnects,
  });
  const die = (p: SimPeer, cause: Cause): void => {
    change(p, 'dead', cause);
    p.kernel = { ...p.kernel, frozen: true };
    retired.push({ info: info(p), until: now + 60_000 });
    peers.delete(p.id);
  };

  for (let i = 0; i < PEERS; i++) join(`peer-${i}`, 0);
  const encoder = new StreamEncoder(RTT_HISTORY);
  const kernelOf = (i: PeerInfo): KernelView | null => peers.get(i.id)?.kernel ?? null;
  const snapshot = (): PeerInfo[] => [...[...peers.values()].map(info), ...retired.filter((r) => r.until > now).map((r) => r.info)];
  encoder.update(snapshot(), now, kernelOf);
  events.length = 0;

  const summary: Summary = {
    deathsPerMin: { 'heartbeat-timeout': 3, 'closed-by-peer': 1 },
    lag: { p50: 0.1, p99: 1.2, max: 3.4 },
    lagWindow: 0,
    heartbeats: { sent: 123_456_789, received: 123_456_700 },
    connections: PEERS,
  };
  let messages = 0;
  let bytes = 0;
  // What a page that sends Accept-Encoding: gzip receives: one gzip stream, flushed after every message.
  let gzipped = 0;
  const gzip = createGzip({ level: 6 });
  gzip.on('data', (chunk: Buffer) => (gzipped += chunk.length));
  let patches = 0;
  let encodeMs = 0;
  let worstEncodeMs = 0;
  let biggest = 0;
  const ticks = (SECONDS * 1000) / TICK_MS;
  const pending: SimPeer[] = [];
  for (let t = 1; t <= ticks; t++) {
    const end = now + TICK_MS;
    // Advance every peer to the end of this tick.
    for (; now < end; now += 20) {
      for (const p of peers.values()) {
        if (p.state === 'suspect' && now - p.since > s.intervalMs) {
          change(p, 'alive', null);
          p.lastSeen = now;
        }
        if (p.state !== 'alive' || now < p.nextBeat) continue;
        const rtt = Math.round((4 + 30 * random() ** 3) * 1000) / 1000;
        p.samples = [...p.samples, rtt].slice(-RTT_HISTORY);
        p.rttvar = p.srtt === null ? rtt / 2 : 0.75 * p.rttvar! + 0.25 * Math.abs(p.srtt - rtt);
        p.srtt = p.srtt === null ? rtt : Math.round((0.875 * p.srtt + 0.125 * rtt) * 1000) / 1000;
        p.lastSeen = now + rtt;
        p.nextBeat = now + s.intervalMs * (0.9 + 0.2 * random());
      }
    }
    for (const p of peers.values()) {
      if (p.state !== 'alive') continue;
      const r = random();
      if (r < (s.deathRate * TICK_MS) / 1000) pending.push(p);
      else if (r < ((s.deathRate + s.flapRate) * TICK_MS) / 1000) change(p, 'suspect', 'heartbeat-timeout');
    }
    if (s.massDeath > 0 && t === ticks / 2) for (const p of [...peers.values()].slice(0, Math.round(PEERS * s.massDeath))) pending.push(p);
    for (const p of pending.splice(0)) {
      if (!peers.has(p.id)) continue;
      die(p, 'heartbeat-timeout');
      join(p.id, p.reconnects + 1);
    }

    const snap = snapshot();
    const started = performance.now();
    const delta = encoder.update(snap, now, kernelOf);
    const ev = events.splice(0, 500);
    const evSkipped = events.length;
    events.length = 0;
    const message: DeltaMessage = { now, wall: now, up: delta.up, rm: delta.rm, ev, evSkipped, ...(t % 4 === 0 ? { summary } : {}) };
    const text = sseMessage('delta', message);
    const took = performance.now() - started;
    encodeMs += took;
    worstEncodeMs = Math.max(worstEncodeMs, took);
    messages++;
    await new Promise<void>((resolve) => {
      gzip.write(text);
      gzip.flush(constants.Z_SYNC_FLUSH, () => resolve());
    });
    const size = Buffer.byteLength(text);
    bytes += size;
    biggest = Math.max(biggest, size);
    patches += delta.up.length;
  }
  // What a page opened at the end receives first (RTT histories are full by now).
  const fullText = sseMessage('full', { peers: encoder.full() });
  const fullBytes = Buffer.byteLength(fullText);
  const fullGzip = gzipSync(fullText).length;
  const perSecond = (n: number): number => n / SECONDS;
  process.stdout.write(
    `${s.name.padEnd(40)} ${perSecond(messages).toFixed(1).padStart(6)} msg/s ${(perSecond(bytes) / 1024).toFixed(1).padStart(8)} KiB/s ` +
      `(gzip ${(perSecond(gzipped) / 1024).toFixed(1).padStart(6)} KiB/s) ${perSecond(patches).toFixed(0).padStart(7)} patches/s  largest ${(biggest / 1024).toFixed(1).padStart(7)} KiB  ` +
      `encode ${(encodeMs / ticks).toFixed(1)} ms/tick (worst ${worstEncodeMs.toFixed(1)})  full state ${(fullBytes / 1024 / 1024).toFixed(2)} MiB (gzip ${(fullGzip / 1024).toFixed(0)} KiB)\n`,
  );
}

process.stdout.write(`${PEERS} peers, ${SECONDS} s of virtual time, one delta per ${TICK_MS} ms (naive: one message per heartbeat would be ${PEERS / 2} msg/s at a 2 s interval)\n`);
for (const s of SCENARIOS) await run(s, Number(values.seed));
