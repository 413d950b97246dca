/**
 * Multi-process mode over `node:cluster`: K worker processes each run a `VigilServer`
 * behind the same ports (the primary holds the listeners and hands each new connection
 * to the next worker, round-robin), and the primary serves one HTTP API for all of
 * them: `/api/peers` and `/api/events` merged, `/api/health` and `/metrics` aggregated,
 * `/api/workers` with each worker's own load. One process holds at most ~20,000
 * descriptors here; workers are how one box holds more peers and uses every core.
 */
import cluster, { type Worker } from 'node:cluster';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { HeartbeatConfig, StateChange } from '@vigil/core';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';
import { Subject, type Observable } from 'rxjs';
import { getRoutes, sendJson, serveHandlers, type HttpApiHandler, type HttpApiServer } from './http-api.js';
import type { LocalHealthSnapshot } from './local-health.js';
import { createMetrics } from './metrics.js';
import type { PeerInfo } from './peer.js';
import type { ServerAddresses, VigilServer } from './vigil-server.js';

/** Named defaults (ms). */
export const WORKERS_DEFAULTS = {
  /** State changes are forwarded to the primary in batches this often. */
  changeBatchMs: 20,
  /** A request to a worker that takes longer fails. */
  requestTimeoutMs: 10_000,
  /** Event-loop delay is reported over windows of this length. */
  loopWindowMs: 10_000,
  /** A worker that dies is replaced after this delay. */
  respawnDelayMs: 1000,
  /** Most time a worker has to close its server on shutdown. */
  shutdownMs: 5000,
  /** The dashboard's view of all peers is refreshed at most this often. */
  snapshotRefreshMs: 1000,
} as const;

/** One worker's own figures, as `/api/workers` reports them. */
export interface WorkerStats {
  readonly worker: number;
  readonly pid: number;
  /** Live peers and open transports of this worker. */
  readonly peers: number;
  readonly connections: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  /** CPU used since the worker started, µs. */
  readonly cpuUserUs: number;
  readonly cpuSystemUs: number;
  /** Event-loop delay beyond schedule over the last complete window (`loopWindowMs`), ms. */
  readonly eventLoop: { readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number; readonly windowMs: number };
  readonly pingsSent: number;
  readonly pongsReceived: number;
}

/** A state change as the primary forwards it: the worker's, with the peer's transport. */
export interface WorkerStateChange extends StateChange {
  readonly worker: number;
  readonly transport: 'tcp' | 'ws' | null;
}

type WorkerQuery = 'snapshot' | 'events' | 'health' | 'metrics' | 'stats';

type ToWorker = { readonly vigil: 'query'; readonly id: number; readonly query: WorkerQuery } | { readonly vigil: 'shutdown' };
type FromWorker =
  | { readonly vigil: 'listening'; readonly ports: ServerAddresses }
  | { readonly vigil: 'answer'; readonly id: number; readonly body: unknown }
  | { readonly vigil: 'changes'; readonly changes: readonly WorkerStateChange[] };

function isFromWorker(m: unknown): m is FromWorker {
  return typeof m === 'object' && m !== null && 'vigil' in m;
}

/** This worker's index (0-based) as the primary numbered it; null outside a worker. */
export function workerIndex(): number | null {
  const raw = cluster.isWorker ? process.env['VIGIL_WORKER_INDEX'] : undefined;
  return raw === undefined ? null : Number(raw);
}

/**
 * The worker side: listens with `server`, reports its ports, forwards state changes in
 * batches, answers the primary's queries, and closes the server on the primary's
 * `shutdown` (or on SIGINT/SIGTERM, which a terminal sends to the whole group).
 * Resolves once listening; `closed` resolves when the worker should exit.
 */
export async function runClusterWorker(server: VigilServer<unknown, unknown>): Promise<{ readonly closed: Promise<void> }> {
  const index = workerIndex() ?? 0;
  const send = (m: FromWorker): void => {
    if (process.connected) process.send?.(m);
  };
  let batch: WorkerStateChange[] = [];
  let flush: NodeJS.Timeout | null = null;
  server.changes$.subscribe((c) => {
    batch.push({ ...c, worker: index, transport: server.peers.get(c.peerId)?.transport ?? null });
    flush ??= setTimeout(() => {
      flush = null;
      const changes = batch;
      batch = [];
      send({ vigil: 'changes', changes });
    }, WORKERS_DEFAULTS.changeBatchMs);
  });
  const loop = new LoopWindows();
  let registry: Registry | null = null;
  const answer = async (query: WorkerQuery): Promise<unknown> => {
    switch (query) {
      case 'snapshot':
        return server.snapshot();
      case 'events':
        return server.recentEvents();
      case 'health':
        return server.health();
      case 'metrics':
        registry ??= createMetrics(server);
        return registry.getMetricsAsJSON();
      case 'stats': {
        const mem = process.memoryUsage();
        const cpu = process.cpuUsage();
        return {
          worker: index,
          pid: process.pid,
          peers: server.peers.size,
          connections: server.connectionCount,
          rssBytes: mem.rss,
          heapUsedBytes: mem.heapUsed,
          cpuUserUs: cpu.user,
          cpuSystemUs: cpu.system,
          eventLoop: loop.last(),
          pingsSent: server.engine.stats.pingsSent,
          pongsReceived: server.engine.stats.pongsReceived,
        } satisfies WorkerStats;
      }
    }
  };
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      loop.stop();
      await Promise.race([server.close(), new Promise((r) => setTimeout(r, WORKERS_DEFAULTS.shutdownMs).unref())]);
    })();
    return closing;
  };
  const closed = new Promise<void>((resolve) => {
    process.on('message', (m: ToWorker) => {
      if (m.vigil === 'shutdown') void close().then(resolve);
      else if (m.vigil === 'query') {
        void answer(m.query).then(
          (body) => send({ vigil: 'answer', id: m.id, body }),
          (error: unknown) => send({ vigil: 'answer', id: m.id, body: { error: String(error) } }),
        );
      }
    });
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void close().then(resolve));
    // The primary went away: nobody will route connections to us any more.
    process.on('disconnect', () => void close().then(resolve));
  });
  const ports = await server.listen();
  send({ vigil: 'listening', ports });
  return { closed };
}

/** Event-loop delay over fixed windows: the last complete one is what `stats` reports. */
class LoopWindows {
  private readonly histogram = monitorEventLoopDelay({ resolution: 10 });
  private readonly timer: NodeJS.Timeout;
  private lastWindow = { p50Ms: 0, p99Ms: 0, maxMs: 0, windowMs: WORKERS_DEFAULTS.loopWindowMs };

  constructor() {
    this.histogram.enable();
    const h = this.histogram;
    const ms = (ns: number): number => Math.max(0, Math.round((ns / 1e6 - 10) * 1000) / 1000);
    this.timer = setInterval(() => {
      this.lastWindow = { p50Ms: ms(h.percentile(50)), p99Ms: ms(h.percentile(99)), maxMs: ms(h.max), windowMs: WORKERS_DEFAULTS.loopWindowMs };
      h.reset();
    }, WORKERS_DEFAULTS.loopWindowMs);
    this.timer.unref();
  }

  last(): WorkerStats['eventLoop'] {
    return this.lastWindow;
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }
}

export interface ClusterPrimaryOptions {
  /** Worker processes to run, at least 1. */
  readonly workers: number;
  /** The heartbeat config the workers run with (for the dashboard's view). */
  readonly config: HeartbeatConfig;
  /** Receives one line per notable event (a worker died, was replaced). Default: none. */
  readonly onWarning?: (message: string) => void;
}

/**
 * The primary side: forks the workers (`cluster.fork` re-runs this program in each, with
 * `VIGIL_WORKER_INDEX` set), waits until all listen, replaces one that dies, and queries
 * them for the merged API. `view` stands in for a `VigilServer` where the dashboard
 * needs one.
 */
export class ClusterPrimary {
  private readonly workers = new Map<number, Worker>();
  private readonly pending = new Map<number, (body: unknown) => void>();
  private nextQuery = 1;
  private readonly changeSubject = new Subject<WorkerStateChange>();
  private stopping = false;
  private ports: ServerAddresses = {};
  private readonly stats = { pingsSent: 0, pongsReceived: 0 };
  private snapshotCache: PeerInfo[] = [];
  private snapshotAt = Number.NEGATIVE_INFINITY;
  private snapshotInFlight = false;
  private connections = 0;
  /** Every worker's state changes, in the order they arrive. */
  readonly changes$: Observable<WorkerStateChange> = this.changeSubject.asObservable();

  private constructor(private readonly options: ClusterPrimaryOptions) {
    if (!cluster.isPrimary) throw new Error('ClusterPrimary runs in the primary process only');
  }

  /** Forks the workers; resolves with the ports they listen on once every one does. */
  static async start(options: ClusterPrimaryOptions): Promise<ClusterPrimary> {
    const primary = new ClusterPrimary(options);
    const listening = await Promise.all(Array.from({ length: options.workers }, (_, i) => primary.fork(i)));
    primary.ports = listening[0] ?? {};
    return primary;
  }

  /** The ports every worker listens on. */
  get addresses(): ServerAddresses {
    return this.ports;
  }

  get size(): number {
    return this.workers.size;
  }

  private fork(index: number): Promise<ServerAddresses> {
    const worker = cluster.fork({ VIGIL_WORKER_INDEX: String(index) });
    this.workers.set(index, worker);
    return new Promise((resolve, reject) => {
      let listening = false;
      worker.on('message', (m: unknown) => {
        if (!isFromWorker(m)) return;
        switch (m.vigil) {
          case 'listening':
            listening = true;
            resolve(m.ports);
            return;
          case 'answer':
            this.pending.get(m.id)?.(m.body);
            this.pending.delete(m.id);
            return;
          case 'changes':
            for (const c of m.changes) this.changeSubject.next(c);
            return;
        }
      });
      worker.once('exit', (code, signal) => {
        if (this.workers.get(index) === worker) this.workers.delete(index);
        if (!listening) {
          reject(new Error(`worker ${index} exited (${code ?? signal}) before listening`));
          return;
        }
        if (this.stopping) return;
        this.options.onWarning?.(`worker ${index} (pid ${worker.process.pid}) exited (${code ?? signal}); its peers are gone; starting a new one`);
        setTimeout(() => {
          if (!this.stopping) this.fork(index).catch((error: unknown) => this.options.onWarning?.(String(error)));
        }, WORKERS_DEFAULTS.respawnDelayMs);
      });
    });
  }

  /** Asks every worker; answers in worker order (a worker that does not answer in time is left out). */
  private async ask<T>(query: WorkerQuery): Promise<T[]> {
    const answers = [...this.workers.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(
        ([, worker]) =>
          new Promise<T | null>((resolve) => {
            const id = this.nextQuery++;
            const timer = setTimeout(() => {
              this.pending.delete(id);
              resolve(null);
            }, WORKERS_DEFAULTS.requestTimeoutMs);
            this.pending.set(id, (body) => {
              clearTimeout(timer);
              resolve(typeof body === 'object' && body !== null && 'error' in body && !Array.isArray(body) ? null : (body as T));
            });
            worker.send({ vigil: 'query', id, query } satisfies ToWorker);
          }),
      );
    return (await Promise.all(answers)).filter((a): a is Awaited<T> => a !== null);
  }

  /** Every worker's peers (live, and ended within their retention). */
  async snapshot(): Promise<PeerInfo[]> {
    const all = (await this.ask<PeerInfo[]>('snapshot')).flat();
    this.snapshotCache = all;
    this.snapshotAt = performance.now();
    return all;
  }

  /** The most recent state changes over all workers (up to 1000), oldest first. */
  async recentEvents(): Promise<StateChange[]> {
    return (await this.ask<StateChange[]>('events'))
      .flat()
      .sort((a, b) => a.at - b.at)
      .slice(-1000);
  }

  /** Health of the whole: worst lag, summed stalls, latest stall. */
  async health(): Promise<LocalHealthSnapshot & { readonly workers: number }> {
    const all = await this.ask<LocalHealthSnapshot>('health');
    const latest = all.map((h) => h.lastStall).reduce<LocalHealthSnapshot['lastStall']>((a, b) => (b !== null && (a === null || b.to > a.to) ? b : a), null);
    return {
      eventLoopLagP99Ms: Math.max(0, ...all.map((h) => h.eventLoopLagP99Ms)),
      eventLoopLagMaxMs: Math.max(0, ...all.map((h) => h.eventLoopLagMaxMs)),
      stalls: sum(all.map((h) => h.stalls)),
      stallMsTotal: sum(all.map((h) => h.stallMsTotal)),
      longestStallMs: Math.max(0, ...all.map((h) => h.longestStallMs)),
      lastStall: latest,
      clockJumps: sum(all.map((h) => h.clockJumps)),
      reprobes: sum(all.map((h) => h.reprobes)),
      guarded: all.every((h) => h.guarded),
      workers: all.length,
    };
  }

  /** Each worker's own figures. */
  async workerStats(): Promise<WorkerStats[]> {
    const all = await this.ask<WorkerStats>('stats');
    this.stats.pingsSent = sum(all.map((s) => s.pingsSent));
    this.stats.pongsReceived = sum(all.map((s) => s.pongsReceived));
    this.connections = sum(all.map((s) => s.connections));
    return all;
  }

  /** Prometheus text: the workers' registries aggregated (counters and gauges summed, event-loop lag the worst), plus per-worker gauges. */
  async metrics(): Promise<{ contentType: string; body: string }> {
    const lists = await this.ask<MetricObjectWithValues<MetricValue<string>>[]>('metrics');
    for (const list of lists) for (const m of list) if (m.name.startsWith('vigil_event_loop_lag')) (m as { aggregator?: string }).aggregator = 'max';
    const registry = AggregatorRegistry.aggregate(lists);
    const stats = await this.workerStats();
    const lines = [
      '# HELP vigil_worker_peers Live peers of each worker process.',
      '# TYPE vigil_worker_peers gauge',
      ...stats.map((s) => `vigil_worker_peers{worker="${s.worker}"} ${s.peers}`),
      '# HELP vigil_worker_event_loop_lag_p99_seconds Event-loop delay beyond schedule of each worker, 99th percentile over its last 10 s window.',
      '# TYPE vigil_worker_event_loop_lag_p99_seconds gauge',
      ...stats.map((s) => `vigil_worker_event_loop_lag_p99_seconds{worker="${s.worker}"} ${s.eventLoop.p99Ms / 1000}`),
      '# HELP vigil_worker_resident_memory_bytes Resident memory of each worker process.',
      '# TYPE vigil_worker_resident_memory_bytes gauge',
      ...stats.map((s) => `vigil_worker_resident_memory_bytes{worker="${s.worker}"} ${s.rssBytes}`),
    ];
    return { contentType: registry.contentType, body: `${await registry.metrics()}\n${lines.join('\n')}\n` };
  }

  /**
   * A stand-in for one `VigilServer`, for the dashboard: its changes, a cached view of
   * every worker's peers (refreshed in the background at most once a second while
   * asked for), the heartbeat config and counters. It lists no live `Peer` objects,
   * so the dashboard shows no kernel view of sockets that live in other processes.
   */
  get view(): VigilServer<unknown, unknown> {
    const primary = this;
    const origin = performance.timeOrigin;
    const view = {
      config: this.options.config,
      changes$: this.changes$,
      peers: new Map(),
      engine: { now: () => origin + performance.now(), stats: this.stats },
      get connectionCount() {
        return primary.connections;
      },
      snapshot: () => {
        if (!this.snapshotInFlight && performance.now() - this.snapshotAt >= WORKERS_DEFAULTS.snapshotRefreshMs) {
          this.snapshotInFlight = true;
          void Promise.all([this.snapshot(), this.workerStats()]).finally(() => {
            this.snapshotInFlight = false;
          });
        }
        return this.snapshotCache;
      },
    };
    return view as unknown as VigilServer<unknown, unknown>;
  }

  /** Stops every worker in order (each closes its connections); resolves when all exited. */
  async close(): Promise<void> {
    this.stopping = true;
    const exits = [...this.workers.values()].map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.isDead()) return resolve();
          w.once('exit', () => resolve());
          if (w.isConnected()) w.send({ vigil: 'shutdown' } satisfies ToWorker);
          setTimeout(() => {
            if (!w.isDead()) w.process.kill('SIGKILL');
          }, WORKERS_DEFAULTS.shutdownMs + 1000).unref();
        }),
    );
    await Promise.all(exits);
    this.changeSubject.complete();
  }
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** The primary's HTTP API: the same routes as one server's, answered for all workers, plus `/api/workers`. */
export function createClusterHttpApi(primary: ClusterPrimary, options: { readonly token?: string } = {}): HttpApiHandler {
  return getRoutes(CLUSTER_API_PATHS, options.token, async (path, res) => {
    if (path === '/metrics') {
      const { contentType, body } = await primary.metrics();
      res.writeHead(200, { 'content-type': contentType }).end(body);
      return;
    }
    sendJson(
      res,
      path === '/api/peers'
        ? await primary.snapshot()
        : path === '/api/health'
          ? await primary.health()
          : path === '/api/workers'
            ? await primary.workerStats()
            : await primary.recentEvents(),
    );
  });
}

const CLUSTER_API_PATHS: ReadonlySet<string> = new Set(['/api/peers', '/api/events', '/api/health', '/api/workers', '/metrics']);

/** Serves the cluster's HTTP API (and `fallback`, e.g. the dashboard) on its own port in the primary. */
export function serveClusterHttpApi(
  primary: ClusterPrimary,
  options: { readonly port: number; readonly host?: string; readonly token?: string; readonly fallback?: HttpApiHandler },
): Promise<HttpApiServer> {
  const api = createClusterHttpApi(primary, options.token === undefined ? {} : { token: options.token });
  return serveHandlers([api, options.fallback], options);
}
