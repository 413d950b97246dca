/**
 * Prometheus metrics for one `VigilServer`, on its own prom-client registry (so
 * several servers in one process do not collide). Names carry the `vigil_` prefix
 * and base units; `docs/metrics.md` documents each.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { VigilServer } from './vigil-server.js';

const STATES = ['connecting', 'alive', 'suspect', 'dead', 'closed'] as const;

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
  server.changes$.subscribe((c) => {
    if (c.to === 'dead') {
      deaths.inc({ cause: c.cause ?? 'unknown' });
      if (c.cause === 'heartbeat-timeout') detection.observe(c.silenceMs / 1000);
    } else if (c.to === 'closed') closes.inc({ cause: c.cause ?? 'unknown' });
  });
  server.rttSamples$.subscribe((ms) => rtt.observe(ms / 1000));
  return registry;
}
