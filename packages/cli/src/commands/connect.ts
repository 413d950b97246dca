/**
 * `vigil connect URL`: one `VigilClient` that answers the server's heartbeats and
 * reconnects by itself until SIGINT or SIGTERM. Stdout carries one JSON `state`
 * line per change of the client's view of its session.
 */
import { VigilClient, parseVigilUrl, type ClientStatus } from '@vigil/client';
import { ConfigError, VigilError } from '@vigil/protocol';
import { ExitCode, UsageError, parseCommandLine, parseMs } from '../internal/args.js';
import { DETECTOR_FLAGS, DETECTOR_USAGE, parseDetectorFlags, type DetectorFlags } from '../internal/detector-flags.js';
import { cliLogger, createCliLogger, parseLogLevel, type LogLevel } from '../internal/logger.js';
import { shutdownRequest, within, writeJsonLine, writeLine } from '../internal/process-io.js';

export const CONNECT_USAGE = `Usage: vigil connect URL [options]

Connects to a Vigil server (URL: tcp://host:port or ws://host:port/path) and
stays connected, reconnecting by itself, until SIGINT or SIGTERM. Prints one
JSON line on stdout per state change:
  {"event":"state","state":"alive","cause":null,"attempt":0,"peer":ID,
   "sessionId":S,"reconnects":N,"rttMs":N}
(rttMs on alive lines only). Logs go to stderr. The detector judges the
server's pings; with either, interval + timeout of silence is the hard cap.

Options:
  --id NAME          peer id to ask for (default: the server assigns one)
  --interval MS      heartbeat interval to request (the server clamps it)
${DETECTOR_USAGE}
  --no-stall-guard   judge raw silence: do not excuse this process's own stalls
  --log-level LEVEL  fatal, error, warn, info, debug, trace or silent (default info)
  -h, --help         show this help

Exit status: 0 after a signal, 1 if the server refused us for good, 2 for bad
flags or URL.`;

const FLAGS = {
  id: { type: 'string' },
  interval: { type: 'string' },
  ...DETECTOR_FLAGS,
  'no-stall-guard': { type: 'boolean' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What `vigil connect` was asked to do; `detector` and `phi` only when given. */
export interface ConnectOptions extends DetectorFlags {
  readonly url: string;
  readonly id?: string;
  readonly intervalMs?: number;
  /** False with `--no-stall-guard`. */
  readonly stallGuard: boolean;
  readonly logLevel: LogLevel;
}

/**
 * Parses `connect`'s arguments; `'help'` when help was asked for.
 * @throws UsageError naming the flag or `URL` (exit code 2).
 */
export function parseConnectArgs(argv: readonly string[]): ConnectOptions | 'help' {
  const { flags, positionals } = parseCommandLine('connect', FLAGS, argv, 1);
  if (flags.help) return 'help';
  const url = positionals[0];
  if (url === undefined) throw new UsageError('connect', 'URL', 'missing URL (tcp://host:port or ws://host:port/path)');
  try {
    parseVigilUrl(url, ['tcp', 'ws', 'wss']);
  } catch (error) {
    if (error instanceof VigilError) throw new UsageError('connect', 'URL', `URL: ${error.message}`);
    throw error;
  }
  if (flags.id !== undefined && flags.id === '') throw new UsageError('connect', '--id', '--id must not be empty');
  return {
    url,
    ...(flags.id !== undefined ? { id: flags.id } : {}),
    ...(flags.interval !== undefined ? { intervalMs: parseMs('connect', '--interval', flags.interval) } : {}),
    ...parseDetectorFlags('connect', flags),
    stallGuard: flags['no-stall-guard'] !== true,
    logLevel: flags['log-level'] === undefined ? 'info' : parseLogLevel('connect', '--log-level', flags['log-level']),
  };
}

/** One `state` line of `vigil connect`. */
export interface ClientStateEvent {
  readonly event: 'state';
  readonly state: ClientStatus['state'];
  readonly cause: ClientStatus['cause'];
  /** Connection attempts since the last successful handshake. */
  readonly attempt: number;
  /** The id the server knows us by; null before the first handshake. */
  readonly peer: string | null;
  readonly sessionId: string | null;
  /** Successful handshakes after the first. */
  readonly reconnects: number;
  /** Smoothed RTT to the server, ms; on `alive` lines only, null if no sample came in time. */
  readonly rttMs?: number | null;
}

/** How long an `alive` line may wait for the RTT probe's pong, ms. */
const RTT_WAIT_MS = 1000;
const RTT_POLL_MS = 2;
/** Most time allowed for an orderly close before leaving anyway, ms (the client lingers up to 1000). */
const SHUTDOWN_DEADLINE_MS = 3000;

/**
 * Prints a client's status changes in order. An `alive` line is held back until a
 * probe's pong gives it an RTT (at most `RTT_WAIT_MS`); any later change flushes it first.
 */
class StatusPrinter {
  private pendingAlive: { event: Omit<ClientStateEvent, 'rttMs'>; poll: NodeJS.Timeout; deadline: number } | null = null;

  constructor(private readonly client: VigilClient) {}

  print(status: ClientStatus): void {
    this.flush();
    const event = {
      event: 'state',
      state: status.state,
      cause: status.cause,
      attempt: status.attempt,
      peer: this.client.peerId,
      sessionId: this.client.sessionId,
      reconnects: this.client.reconnects,
    } as const;
    if (status.state !== 'alive') {
      writeJsonLine(event);
      return;
    }
    // The session's first RTT sample would otherwise wait for the server's second ping.
    setImmediate(() => this.client.probe());
    const poll = setInterval(() => {
      if (Number.isFinite(this.client.rttMs) || Date.now() >= (this.pendingAlive?.deadline ?? 0)) this.flush();
    }, RTT_POLL_MS);
    this.pendingAlive = { event, poll, deadline: Date.now() + RTT_WAIT_MS };
  }

  flush(): void {
    const pending = this.pendingAlive;
    if (pending === null) return;
    this.pendingAlive = null;
    clearInterval(pending.poll);
    const rtt = this.client.rttMs;
    writeJsonLine({ ...pending.event, rttMs: Number.isFinite(rtt) ? Math.round(rtt * 1000) / 1000 : null } satisfies ClientStateEvent);
  }
}

/** Runs `vigil connect` until a shutdown signal; resolves with the exit code. */
export async function runConnect(argv: readonly string[]): Promise<ExitCode> {
  const options = parseConnectArgs(argv);
  if (options === 'help') {
    writeLine(CONNECT_USAGE);
    return ExitCode.Ok;
  }
  const logger = createCliLogger(options.logLevel, 'connect');
  const cli = cliLogger(logger);
  let client: VigilClient;
  try {
    client = new VigilClient(options.url, {
      ...(options.id !== undefined ? { id: options.id } : {}),
      ...(options.intervalMs !== undefined ? { intervalMs: options.intervalMs } : {}),
      ...(options.detector !== undefined ? { detector: options.detector } : {}),
      ...(options.phi !== undefined ? { phi: options.phi } : {}),
      ...(options.stallGuard ? {} : { stallGuard: false as const }),
      logger,
    });
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError('connect', `--${error.field.replace(/Ms$/, '')}`, error.message);
    throw error;
  }
  const shutdown = shutdownRequest();
  const printer = new StatusPrinter(client);
  const ended = new Promise<'ended'>((resolve) => {
    client.status$.subscribe({ next: (status) => printer.print(status), complete: () => resolve('ended') });
  });
  // Failures to connect show up as status lines; the promise only says "first handshake done".
  client.connect().catch(() => undefined);

  const outcome = await Promise.race([shutdown.requested, ended]);
  if (outcome === 'ended') {
    printer.flush();
    process.stderr.write(`vigil connect: ${client.lastError?.message ?? 'the client stopped'}\n`);
    return ExitCode.Failure;
  }
  cli.info({ reason: outcome }, 'shutting down');
  const closed = await within(client.close(), SHUTDOWN_DEADLINE_MS);
  if (closed === 'timeout') cli.warn({ deadlineMs: SHUTDOWN_DEADLINE_MS }, 'the server did not close in time; leaving anyway');
  printer.flush();
  return ExitCode.Ok;
}
