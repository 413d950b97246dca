/**
 * `vigil serve`: a Vigil server on TCP and/or WebSocket, optionally with the HTTP API
 * (`/api/peers`, `/api/events`, `/metrics`) and, with `--redis` and `--node`, as one
 * node of a cluster sharing presence on Redis (docs/cluster.md). Stdout carries JSON
 * lines only: one `listening` line with the bound ports, then one `state` line per
 * peer state change (and one `cluster` line per cluster presence event).
 */
import { attachCluster, createClusterHttpApi, resolveClusterConfig, type Cluster, type ClusterEvent } from '@vigil/cluster';
import { resolveHeartbeatConfig, type HeartbeatOptions, type PhiAccrualOptions, type StateChange } from '@vigil/core';
import { ConfigError } from '@vigil/protocol';
import { createDashboardHandler } from '@vigil/dashboard';
import type { Logger } from 'pino';
import { VigilServer, serveHttpApi, type HttpApiHandler, type HttpApiServer, type VigilServerOptions } from '@vigil/server';
import { ExitCode, UsageError, parseCommandLine, parseMs, parsePort } from '../internal/args.js';
import { DETECTOR_FLAGS, DETECTOR_USAGE, parseDetectorFlags } from '../internal/detector-flags.js';
import { cliLogger, createCliLogger, parseLogLevel, type LogLevel } from '../internal/logger.js';
import { shutdownRequest, within, writeJsonLine, writeLine } from '../internal/process-io.js';

export const SERVE_USAGE = `Usage: vigil serve [options]

Runs a Vigil server until SIGINT or SIGTERM. Prints JSON lines on stdout:
  {"event":"listening","tcp":N,"ws":N,"http":N}   once, with every requested port
                     (and "node":NAME with --redis)
  {"event":"state","peer":ID,"transport":T,"from":S,"to":S,"cause":C,"silenceMs":N}
  {"event":"cluster","type":T,"seq":N,"node":NODE,...}   with --redis: every
                     presence event of every node (docs/cluster.md), RTTs excepted
Logs go to stderr.

Options:
  --host HOST        interface to bind (default 127.0.0.1)
  --tcp PORT         length-prefixed TCP listener; 0 picks a free port
  --ws PORT          WebSocket listener; 0 picks a free port
                     (neither --tcp nor --ws: both, on free ports)
  --http PORT        HTTP: the live dashboard at /, GET /api/peers, /api/events,
                     /metrics (default: off)
${DETECTOR_USAGE}
  --no-stall-guard   judge raw silence: do not excuse this process's own stalls
  --token TOKEN      require "Authorization: Bearer TOKEN" on every HTTP route
                     (the dashboard takes it as ?token=)
  --interval MS      heartbeat interval (default 2000)
  --timeout MS       silence after which a peer is dead; above --interval
                     (default 3 x --interval, or 6000)
  --log-level LEVEL  fatal, error, warn, info, debug, trace or silent (default info)
  --workers K        run K worker processes behind the same ports (node:cluster),
                     with one HTTP API and dashboard for all of them (1 to 64)
  --redis URL        join a cluster sharing presence on this Redis
                     (redis:// or rediss://); needs --node
  --node NAME        this node's name in the cluster, unique among live nodes
                     (1-64 of A-Z a-z 0-9 . _ -)
  --lease MS         cluster lease TTL: a node silent this long (plus one renewal,
                     a fifth of it) is declared lost (default 5000)
  --namespace NS     cluster key prefix, to share one Redis between clusters
                     (default vigil)
                     With --http, also GET /api/cluster/peers, /api/cluster/nodes
                     and /api/cluster/view, and the dashboard shows every node.
  -h, --help         show this help

Exit status: 0 after a signal, 1 if a port cannot be bound or the cluster cannot
be joined, 2 for bad flags.`;

const FLAGS = {
  host: { type: 'string' },
  tcp: { type: 'string' },
  ws: { type: 'string' },
  http: { type: 'string' },
  interval: { type: 'string' },
  timeout: { type: 'string' },
  'log-level': { type: 'string' },
  token: { type: 'string' },
  ...DETECTOR_FLAGS,
  'no-stall-guard': { type: 'boolean' },
  workers: { type: 'string' },
  redis: { type: 'string' },
  node: { type: 'string' },
  lease: { type: 'string' },
  namespace: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What `vigil serve` was asked to do. Ports are null when that listener is off. */
export interface ServeOptions {
  readonly host: string;
  readonly tcp: number | null;
  readonly ws: number | null;
  readonly http: number | null;
  /** Exactly what the user gave, already validated with `resolveHeartbeatConfig`. */
  readonly heartbeat: HeartbeatOptions;
  readonly logLevel: LogLevel;
  /** Bearer token guarding every HTTP route; undefined for none. */
  readonly token: string | undefined;
  readonly detector: 'fixed' | 'phi';
  readonly phi: PhiAccrualOptions | undefined;
  readonly stallGuard: boolean;
  /** Worker processes (`--workers`); absent: one process. */
  readonly workers?: number;
  /** Cluster membership (`--redis`, `--node`, `--lease`, `--namespace`); absent: a standalone server. */
  readonly cluster?: ServeClusterOptions;
}

/** `vigil serve --redis URL --node NAME`: the options `attachCluster` gets, already validated. */
export interface ServeClusterOptions {
  readonly redisUrl: string;
  readonly node: string;
  readonly leaseTtlMs?: number;
  readonly namespace?: string;
}

/** The `serve` flag naming each cluster config field a `ConfigError` can blame. */
const FLAG_OF_CLUSTER_FIELD: Readonly<Record<string, string>> = {
  node: '--node',
  redisUrl: '--redis',
  namespace: '--namespace',
  leaseTtlMs: '--lease',
  // Derived from --lease.
  renewIntervalMs: '--lease',
  tombstoneMs: '--lease',
  startTimeoutMs: '--lease',
};

/** `--redis`, `--node`, `--lease`, `--namespace`: all or nothing around `--redis`. @throws UsageError */
function parseClusterFlags(flags: { redis?: string | undefined; node?: string | undefined; lease?: string | undefined; namespace?: string | undefined; workers?: string | undefined }): ServeClusterOptions | undefined {
  if (flags.redis === undefined) {
    for (const flag of ['node', 'lease', 'namespace'] as const) {
      if (flags[flag] !== undefined) throw new UsageError('serve', `--${flag}`, `--${flag} needs --redis URL`);
    }
    return undefined;
  }
  if (flags.node === undefined) throw new UsageError('serve', '--node', '--redis needs --node NAME, this node\'s name in the cluster');
  // One process is one cluster node: node:cluster workers would each need a name and a lease.
  if (flags.workers !== undefined) throw new UsageError('serve', '--workers', '--workers cannot be combined with --redis: run one `vigil serve --redis URL --node NAME` per process instead');
  const options: { redisUrl: string; node: string; leaseTtlMs?: number; namespace?: string } = { redisUrl: flags.redis, node: flags.node };
  if (flags.lease !== undefined) options.leaseTtlMs = parseMs('serve', '--lease', flags.lease);
  if (flags.namespace !== undefined) options.namespace = flags.namespace;
  try {
    resolveClusterConfig(options);
  } catch (error) {
    if (error instanceof ConfigError) {
      const flag = FLAG_OF_CLUSTER_FIELD[error.field] ?? `--${error.field}`;
      throw new UsageError('serve', flag, `${flag} ${error.message.slice(error.field.length + 2)}`);
    }
    throw error;
  }
  return options;
}

/** What the command line asks of the `VigilServer` (one process, or each worker). */
export function serverOptions(options: ServeOptions, logger: Logger): VigilServerOptions {
  return {
    host: options.host,
    ...(options.tcp !== null ? { tcp: { port: options.tcp } } : {}),
    ...(options.ws !== null ? { ws: { port: options.ws } } : {}),
    heartbeat: options.heartbeat,
    detector: options.detector,
    ...(options.phi ? { phi: options.phi } : {}),
    ...(options.stallGuard ? {} : { stallGuard: false as const }),
    logger,
  };
}

/** The `serve` flag naming each heartbeat config field a `ConfigError` can blame. */
const FLAG_OF_FIELD: Readonly<Record<string, string>> = {
  intervalMs: '--interval',
  timeoutMs: '--timeout',
  // Derived from both; --timeout is the one to move.
  suspectAfterMs: '--timeout',
  tickMs: '--interval',
  minIntervalMs: '--interval',
  maxIntervalMs: '--interval',
};

/** Rewrites a heartbeat `ConfigError` in the vocabulary of `serve`'s flags. */
export function configErrorToUsage(command: string, error: ConfigError): UsageError {
  const flag = FLAG_OF_FIELD[error.field] ?? `--${error.field}`;
  const detail = error.message
    .slice(error.field.length + 2)
    .replaceAll(/\bintervalMs\b/g, '--interval')
    .replaceAll(/\btimeoutMs\b/g, '--timeout');
  let what = `${flag} ${detail}`;
  if (error.field === 'suspectAfterMs') what = `${flag} is too close to --interval: the suspect threshold ${detail}`;
  // The timer wheel's tick (at least 1 ms) must fit four times in an interval; only a tiny interval trips this.
  if (error.field === 'tickMs') what = `${flag} must be at least 4 ms`;
  return new UsageError(command, flag, what);
}

/**
 * Parses `serve`'s arguments; `'help'` when help was asked for.
 * @throws UsageError naming the flag (exit code 2).
 */
export function parseServeArgs(argv: readonly string[]): ServeOptions | 'help' {
  const { flags, spelled } = parseCommandLine('serve', FLAGS, argv, 0);
  if (flags.help) return 'help';
  const port = (name: 'tcp' | 'ws' | 'http'): number | null => {
    const raw = flags[name];
    return raw === undefined ? null : parsePort('serve', spelled[name] ?? `--${name}`, raw);
  };
  let tcp = port('tcp');
  let ws = port('ws');
  const http = port('http');
  if (tcp === null && ws === null) {
    tcp = 0;
    ws = 0;
  }
  const host = flags.host ?? '127.0.0.1';
  if (host.trim() === '') throw new UsageError('serve', '--host', '--host must not be empty');
  const heartbeat: { intervalMs?: number; timeoutMs?: number } = {};
  if (flags.interval !== undefined) heartbeat.intervalMs = parseMs('serve', '--interval', flags.interval);
  if (flags.timeout !== undefined) heartbeat.timeoutMs = parseMs('serve', '--timeout', flags.timeout);
  try {
    resolveHeartbeatConfig(heartbeat);
  } catch (error) {
    if (error instanceof ConfigError) throw configErrorToUsage('serve', error);
    throw error;
  }
  const logLevel = flags['log-level'] === undefined ? 'info' : parseLogLevel('serve', '--log-level', flags['log-level']);
  if (flags.token !== undefined && flags.token.length < 8) throw new UsageError('serve', '--token', '--token must be at least 8 characters');
  const { detector = 'fixed', phi } = parseDetectorFlags('serve', flags);
  const workers = flags.workers === undefined ? undefined : parseWorkers(flags.workers);
  const cluster = parseClusterFlags(flags);
  return {
    host,
    tcp,
    ws,
    http,
    heartbeat,
    logLevel,
    token: flags.token,
    detector,
    phi,
    stallGuard: flags['no-stall-guard'] !== true,
    ...(workers === undefined ? {} : { workers }),
    ...(cluster === undefined ? {} : { cluster }),
  };
}

/** `--workers K`: 1 to 64 worker processes. @throws UsageError */
function parseWorkers(raw: string): number {
  const n = /^\d{1,2}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= 1 && n <= 64)) throw new UsageError('serve', '--workers', `--workers must be a whole number from 1 to 64, got "${raw}"`);
  return n;
}

/** The `listening` line: every requested listener's bound port, in tcp, ws, http order; `node` once it joined its cluster. */
export interface ListeningEvent {
  readonly event: 'listening';
  readonly tcp?: number;
  readonly ws?: number;
  readonly http?: number;
  readonly node?: string;
}

/** One `cluster` line: a presence event of any node (`rtt` events are not printed). */
export type ClusterLine = { readonly event: 'cluster' } & Exclude<ClusterEvent, { readonly type: 'rtt' }>;

/** One `state` line: a peer's state change as the server saw it. */
export interface StateEvent {
  readonly event: 'state';
  readonly peer: string;
  /** Null for connections that ended before the handshake named them. */
  readonly transport: 'tcp' | 'ws' | null;
  readonly from: StateChange['from'];
  readonly to: StateChange['to'];
  readonly cause: StateChange['cause'];
  /** Ms since the peer's last inbound frame at the change. */
  readonly silenceMs: number;
}

/** Most time allowed for an orderly close before leaving anyway, ms (the server lingers up to 2000). */
const SHUTDOWN_DEADLINE_MS = 4000;

/** `url` without its password, for messages (`redis://user:***@host:6379`). */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password === '') return url;
  parsed.password = '***';
  return parsed.toString();
}

/** Tries `first`, then `second`, for the HTTP API's `fallback`. */
function chain(first: HttpApiHandler, second: HttpApiHandler): HttpApiHandler {
  return async (req, res) => (await first(req, res)) || second(req, res);
}

export function describeListenError(error: unknown): string {
  const e = error as NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string };
  if (e.code === 'EADDRINUSE') return `cannot listen on ${e.address ?? '?'}:${e.port ?? '?'}: address already in use`;
  if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return `cannot listen on ${e.address ?? e.hostname ?? '?'}: no such local address`;
  if (e.code === 'EACCES') return `cannot listen on ${e.address ?? '?'}:${e.port ?? '?'}: permission denied`;
  return `cannot listen: ${e.message}`;
}

/** Runs `vigil serve` until a shutdown signal; resolves with the exit code. */
export async function runServe(argv: readonly string[]): Promise<ExitCode> {
  const options = parseServeArgs(argv);
  if (options === 'help') {
    writeLine(SERVE_USAGE);
    return ExitCode.Ok;
  }
  if (options.workers !== undefined) return (await import('./serve-workers.js')).runServeWorkers(options, options.workers);
  const logger = createCliLogger(options.logLevel, 'serve');
  const cli = cliLogger(logger);
  const shutdown = shutdownRequest();
  const server = new VigilServer(serverOptions(options, logger));

  // A fast client may finish its handshake before every listener is up; its state
  // lines wait so that `listening` is always the first line on stdout.
  let early: StateEvent[] | null = [];
  server.changes$.subscribe((change) => {
    const event: StateEvent = {
      event: 'state',
      peer: change.peerId,
      transport: server.peers.get(change.peerId)?.transport ?? null,
      from: change.from,
      to: change.to,
      cause: change.cause,
      silenceMs: Math.round(change.silenceMs),
    };
    if (early) early.push(event);
    else writeJsonLine(event);
  });

  let http: HttpApiServer | null = null;
  let cluster: Cluster<unknown> | null = null;
  let earlyCluster: ClusterLine[] | null = [];
  try {
    const bound = await server.listen();
    if (options.cluster !== undefined) {
      try {
        cluster = await attachCluster(server, { ...options.cluster, logger });
      } catch (error) {
        process.stderr.write(`vigil serve: cannot join the cluster as "${options.cluster.node}" through ${redactUrl(options.cluster.redisUrl)}: ${error instanceof Error ? error.message : String(error)}\n`);
        await within(server.close(), SHUTDOWN_DEADLINE_MS);
        return ExitCode.Failure;
      }
      cluster.events$.subscribe((e) => {
        if (e.type === 'rtt') return;
        const line: ClusterLine = { event: 'cluster', ...e };
        if (earlyCluster) earlyCluster.push(line);
        else writeJsonLine(line);
      });
    }
    if (options.http !== null) {
      const auth = options.token === undefined ? {} : { token: options.token };
      const dashboard = createDashboardHandler(server, { ...auth, ...(cluster !== null ? { cluster } : {}) });
      const fallback = cluster === null ? dashboard : chain(createClusterHttpApi(cluster, auth), dashboard);
      http = await serveHttpApi(server, { port: options.http, host: options.host, ...auth, fallback });
    }
    const listening: ListeningEvent = {
      event: 'listening',
      ...(bound.tcp !== undefined ? { tcp: bound.tcp } : {}),
      ...(bound.ws !== undefined ? { ws: bound.ws } : {}),
      ...(http !== null ? { http: http.port } : {}),
      ...(cluster !== null ? { node: cluster.node } : {}),
    };
    writeJsonLine(listening);
  } catch (error) {
    process.stderr.write(`vigil serve: ${describeListenError(error)}\n`);
    await within(Promise.all([server.close(), cluster?.close()]), SHUTDOWN_DEADLINE_MS);
    return ExitCode.Failure;
  }
  for (const event of early) writeJsonLine(event);
  early = null;
  for (const line of earlyCluster) writeJsonLine(line);
  earlyCluster = null;

  const reason = await shutdown.requested;
  cli.info({ reason }, 'shutting down');
  // Server first, so the cluster hears each peer leave with its real cause; then the node leaves.
  const closed = await within(
    Promise.all([server.close().then(() => cluster?.close()), http?.close()]),
    SHUTDOWN_DEADLINE_MS,
  );
  if (closed === 'timeout') cli.warn({ deadlineMs: SHUTDOWN_DEADLINE_MS }, 'connections did not close in time; leaving anyway');
  // The signal handlers stay until exit: a second forwarded Ctrl-C must not kill us mid-exit.
  return ExitCode.Ok;
}
