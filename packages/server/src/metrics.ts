/**
 * Prometheus metrics for one `VigilServer`, on its own prom-client registry (so
 * several servers in one process do not collide). Names carry the `vigil_` prefix
 * and base units; `docs/metrics.md` documents each.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { VigilServer } from './vigil-server.js';

const STATES = ['connecting', 'alive', 'suspect', 'dead', 'closed'] as const;

/** Event-loop delay sampling period, ms; the histogram records whole periods, so this is subtracted. */
const LOOP_RESOLUTION_MS = 10;
const LOOP_WINDOWS = 600;

/**
 * Process-wide event-loop delay: one histogram, rotated every second into a ring of
 * per-second p99 and max (ms), so every registry reads the same windows. Timers are unref'd.
 */
const loopDelay: { histogram: IntervalHistogram | null; windows: { at: number; p99: number; max: number }[] } = { histogram: null, windows: [] };

function startLoopDelay(): void {
  if (loopDelay.histogram !== null) return;
  const h = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  h.enable();
  loopDelay.histogram = h;
  const delay = (ns: number): number => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
  setInterval(() => {
    if (h.count > 0) loopDelay.windows.push({ at: Date.now(), p99: delay(h.percentile(99)), max: delay(h.max) });
    if (loopDelay.windows.length > LOOP_WINDOWS) loopDelay.windows.shift();
    h.reset();
  }, 1000).unref();
}

/** The shared event-loop delay (started on first use), ms: p99 of the last complete second, max over the kept windows. `LocalHealth` reads it too. */
export function eventLoopDelay(): { p99Ms: number; maxMs: number } {
  startLoopDelay();
  let max = 0;
  for (const w of loopDelay.windows) max = Math.max(max, w.max);
  return { p99Ms: loopDelay.windows.at(-1)?.p99 ?? 0, maxMs: max };
}

export function createMetrics(server: VigilServer<unknown, unknown>): Registry {
  const registry = new Registry();
  new Gauge({
    name: 'vigil_peers',
    help: 'Live peers by liveness state and transport (handshaking connections count as connecting).',
    labelNames: ['state', 'transport'],
    registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const peer of server.peers.values()) {
        // A detached session has no transport; `vigil_sessions_detached` counts it.
        if (peer.sessionState === 'detached') continue;
        const key = `${peer.state}|${peer.transport}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      for (const state of STATES) for (const transport of ['tcp', 'ws']) this.set({ state, transport }, counts.get(`${state}|${transport}`) ?? 0);
    },
  });
  new Gauge({
    name: 'vigil_connections_open',
    help: 'Open transports, handshaking or live.',
    registers: [registry],
    collect() {
      this.set(server.connectionCount);
    },
  });
  const deaths = new Counter({ name: 'vigil_peer_deaths_total', help: 'Peers declared dead, by cause.', labelNames: ['cause'], registers: [registry] });
  const closes = new Counter({ name: 'vigil_peer_closes_total', help: 'Peers closed in order, by cause.', labelNames: ['cause'], registers: [registry] });
  const detection = new Histogram({
    name: 'vigil_detection_latency_seconds',
    help: 'Silence (time since the last inbound frame) when a peer was declared dead by a heartbeat timeout.',
    buckets: [0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60],
    registers: [registry],
  });
  const rtt = new Histogram({
    name: 'vigil_rtt_seconds',
    help: 'Round-trip time samples from heartbeat ping/pong.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  new Counter({
    name: 'vigil_heartbeats_sent_total',
    help: 'Pings sent by the server.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(server.engine.stats.pingsSent);
    },
  });
  new Counter({
    name: 'vigil_heartbeats_received_total',
    help: 'Pongs received by the server.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(server.engine.stats.pongsReceived);
    },
  });
  startLoopDelay();
  new Gauge({
    name: 'vigil_event_loop_lag_seconds',
    help: 'Event-loop delay of this process beyond schedule, 99th percentile over the last complete second.',
    registers: [registry],
    collect() {
      this.set((loopDelay.windows.at(-1)?.p99 ?? 0) / 1000);
    },
  });
  let lastScrape = Date.now();
  new Gauge({
    name: 'vigil_event_loop_lag_max_seconds',
    help: 'Largest event-loop delay of this process beyond schedule since the previous scrape of this registry (at most 10 min back).',
    registers: [registry],
    collect() {
      let max = 0;
      for (const w of loopDelay.windows) if (w.at > lastScrape) max = Math.max(max, w.max);
      lastScrape = Date.now();
      this.set(max / 1000);
    },
  });
  new Counter({
    name: 'vigil_stalls_total',
    help: 'Stalls of this server process (blocked event loop, long GC, SIGSTOP) its stall guard counted.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(server.health().stalls);
    },
  });
  new Counter({
    name: 'vigil_stall_seconds_total',
    help: 'Total length of those stalls: silence not held against peers.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(server.health().stallMsTotal / 1000);
    },
  });
  registerLimitAndResumeMetrics(registry, server);
  server.changes$.subscribe((c) => {
    if (c.to === 'dead') {
      deaths.inc({ cause: c.cause ?? 'unknown' });
      if (c.cause === 'heartbeat-timeout') detection.observe(c.silenceMs / 1000);
    } else if (c.to === 'closed') closes.inc({ cause: c.cause ?? 'unknown' });
  });
  server.rttSamples$.subscribe((ms) => rtt.observe(ms / 1000));
  return registry;
}

/** A counter read at scrape time from one of the server's labelled counts. */
function labelledCount(registry: Registry, name: string, help: string, label: string, read: () => ReadonlyMap<string, number>): void {
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      this.reset();
      for (const [value, n] of read()) this.inc({ [label]: value }, n);
    },
  });
}

/** Limits (refusals, ping strikes, goaways) and session resume (detached sessions, resumes, losses, replay memory). */
function registerLimitAndResumeMetrics(registry: Registry, server: VigilServer<unknown, unknown>): void {
  const counters = server.counters;
  labelledCount(registry, 'vigil_connections_refused_total', 'Connections refused before or at the handshake, by reason.', 'reason', () => counters.refusedBy);
  new Counter({
    name: 'vigil_ping_strikes_total',
    help: 'Client pings that came sooner than the advertised minPingInterval.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(counters.pingStrikes);
    },
  });
  labelledCount(registry, 'vigil_goaways_total', 'goaway messages sent, by reason (draining, too-many-pings).', 'reason', () => counters.goaways);
  labelledCount(registry, 'vigil_session_resumes_total', 'Session resume requests, by result.', 'result', () => counters.resumes);
  labelledCount(registry, 'vigil_sessions_lost_total', 'Detached sessions that ended without being resumed, by cause.', 'cause', () => counters.sessionsLost);
  new Gauge({
    name: 'vigil_sessions_detached',
    help: 'Sessions whose transport ended and that are held for their client to resume them.',
    registers: [registry],
    collect() {
      let n = 0;
      for (const peer of server.peers.values()) if (peer.sessionState === 'detached') n++;
      this.set(n);
    },
  });
  new Gauge({
    name: 'vigil_replay_buffer_bytes',
    help: 'Bytes of unacknowledged messages held for replay, over all sessions.',
    registers: [registry],
    collect() {
      let bytes = 0;
      for (const peer of server.peers.values()) bytes += peer.stream.replay?.bytes ?? 0;
      this.set(bytes);
    },
  });
  new Counter({
    name: 'vigil_replay_overflows_total',
    help: 'Sessions whose replay buffer passed its bound, so that they could no longer be resumed.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(counters.replayOverflows);
    },
  });
}
