/**
 * Messages between the scale benchmark's runner and the server processes it forks
 * (fork IPC channel, JSON). One request, one response, in order.
 */

/** Heartbeat timing every server in one scenario is given, ms. */
export interface Timing {
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export type Request =
  /** Forget connections accepted so far (the setup rate is measured per step). */
  | { readonly type: 'setup-reset' }
  /** Start a measurement window: CPU, heartbeats, event-loop delay and frozen deaths start from zero. */
  | { readonly type: 'window' }
  | { readonly type: 'read' }
  /** Force GC, then report memory. */
  | { readonly type: 'memory' }
  /** Force GC, then write a V8 heap snapshot to `path`. */
  | { readonly type: 'heap-snapshot'; readonly path: string }
  /** Sample the CPU for `ms` and write the `.cpuprofile` to `path` (what `node --cpu-prof` writes, for one window). */
  | { readonly type: 'cpu-profile'; readonly ms: number; readonly path: string };

export interface ServerReport {
  readonly windowMs: number;
  /** User + system CPU over the window, µs. */
  readonly cpuUs: number;
  /** The kernel's share of `cpuUs` (on loopback the sender's `write` also runs the receiving side of TCP), µs. */
  readonly systemUs: number;
  readonly heartbeats: number;
  /** Event-loop delay beyond schedule over the window, ms. */
  readonly loop: { readonly p50: number; readonly p99: number; readonly max: number; readonly samples: number };
  /** Connections accepted since the last `setup-reset`, and ms between the first and the last. */
  readonly accepted: number;
  readonly acceptSpanMs: number;
  /** Connections open now. */
  readonly open: number;
  /** Frozen peers detected in this window: wall-clock ms of the death, and the silence the server saw (Vigil only). */
  readonly frozenDeaths: readonly { readonly at: number; readonly silenceMs: number | null }[];
  /** Deaths of peers that were not frozen, since the start, by cause. */
  readonly falseDeaths: Readonly<Record<string, number>>;
}

export interface MemoryReport {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

export type Response =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'ok' }
  | { readonly type: 'written'; readonly path: string; readonly cpuUs: number; readonly heartbeats: number }
  | { readonly type: 'report'; readonly report: ServerReport }
  | ({ readonly type: 'memory' } & MemoryReport);
