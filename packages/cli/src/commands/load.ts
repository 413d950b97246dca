/**
 * `vigil load URL --clients N`: many lean client sessions from one process, for load
 * tests and the scale benchmark. Each session dials over the Node transports of
 * `@vigil/client` (spread over loopback source addresses past the ephemeral-port limit),
 * says `hello`, and answers every ping with a pong; it keeps no failure detector of its
 * own, so the process measures the server, not itself. Progress goes to stderr; stdout
 * carries one `{"event":"ready","clients":N}` line once every session is up.
 */
import { readFileSync } from 'node:fs';
import { nodeTransportFactory, parseVigilUrl } from '@vigil/client';
import type { Transport } from '@vigil/core';
import { CloseCode, DEFAULT_MAX_FRAME_BYTES, MessageType, PROTOCOL_VERSION, VigilError, decodeMessage, encodeMessage, type Message } from '@vigil/protocol';
import { ExitCode, UsageError, parseCommandLine, parseMs } from '../internal/args.js';
import { shutdownRequest, within, writeJsonLine, writeLine } from '../internal/process-io.js';

export const LOAD_USAGE = `Usage: vigil load URL --clients N [options]

Opens N client sessions to a Vigil server (URL: tcp://host:port or
ws://host:port/path) from this one process and keeps them alive, answering the
server's heartbeats, until SIGINT or SIGTERM. Progress goes to stderr; stdout
carries one line once every session has completed its handshake:
  {"event":"ready","clients":N}
On a loopback URL the sessions dial from source addresses SOURCE.2 to
SOURCE.254 in turn, so N may pass the ~28,000 ephemeral ports of one address
pair. Each session holds one descriptor: past ~19,900 use several processes.

Options:
  --clients N        sessions to open (required), 1 to 1000000
  --interval MS      heartbeat interval to request (the server clamps it)
  --id-prefix P      peer ids are P-0, P-1, ... (default "load")
  --source A.B.C     loopback /24 to dial from (default 127.0.0)
  --concurrency K    dials in flight at once (default 256)
  -h, --help         show this help

Exit status: 0 after a signal, 1 if the server refuses us for good, 2 for bad
flags, a bad URL, or more sessions than this process may hold descriptors.`;

const FLAGS = {
  clients: { type: 'string' },
  interval: { type: 'string' },
  'id-prefix': { type: 'string' },
  source: { type: 'string' },
  concurrency: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface LoadOptions {
  readonly url: string;
  readonly clients: number;
  readonly intervalMs?: number;
  readonly idPrefix: string;
  /** The /24 prefix source addresses are taken from on a loopback URL; null elsewhere (the OS picks). */
  readonly source: string | null;
  readonly concurrency: number;
}

/** Named defaults of `vigil load`. */
export const LOAD_DEFAULTS = {
  idPrefix: 'load',
  source: '127.0.0',
  concurrency: 256,
  /** Descriptors kept free for the process itself (stdio, epoll, the loader). */
  reservedDescriptors: 40,
  /** First and last host part of the source addresses. */
  firstHost: 2,
  lastHost: 254,
  /** Ms between progress lines while connecting. */
  progressMs: 1000,
  /** Ms to wait before redialling a session whose dial or handshake failed: min(max, base × 2^failures). */
  retryBaseMs: 250,
  retryMaxMs: 5000,
  handshakeTimeoutMs: 10_000,
  /** Most time allowed for the orderly close of every session on shutdown, ms. */
  shutdownMs: 2000,
} as const;

function positiveInt(flag: string, raw: string, max: number): number {
  const n = /^\d{1,7}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= 1 && n <= max)) throw new UsageError('load', flag, `${flag} must be a whole number from 1 to ${max}, got "${raw}"`);
  return n;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * Parses `load`'s arguments; `'help'` when help was asked for.
 * @throws UsageError naming the flag or `URL` (exit code 2).
 */
export function parseLoadArgs(argv: readonly string[]): LoadOptions | 'help' {
  const { flags, positionals } = parseCommandLine('load', FLAGS, argv, 1);
  if (flags.help) return 'help';
  const url = positionals[0];
  if (url === undefined) throw new UsageError('load', 'URL', 'missing URL (tcp://host:port or ws://host:port/path)');
  let parsed: URL;
  try {
    parsed = parseVigilUrl(url, ['tcp', 'ws']);
  } catch (error) {
    if (error instanceof VigilError) throw new UsageError('load', 'URL', `URL: ${error.message}`);
    throw error;
  }
  if (flags.clients === undefined) throw new UsageError('load', '--clients', '--clients is required');
  const clients = positiveInt('--clients', flags.clients, 1_000_000);
  const idPrefix = flags['id-prefix'] ?? LOAD_DEFAULTS.idPrefix;
  if (idPrefix === '' || idPrefix.length > 200) throw new UsageError('load', '--id-prefix', '--id-prefix must be 1 to 200 characters');
  const source = flags.source ?? LOAD_DEFAULTS.source;
  if (!/^127\.\d{1,3}\.\d{1,3}$/.test(source) || source.split('.').some((p) => Number(p) > 255)) {
    throw new UsageError('load', '--source', `--source must be a loopback /24 prefix such as 127.0.0, got "${source}"`);
  }
  return {
    url,
    clients,
    ...(flags.interval !== undefined ? { intervalMs: parseMs('load', '--interval', flags.interval) } : {}),
    idPrefix,
    source: isLoopback(parsed.hostname) ? source : null,
    concurrency: flags.concurrency === undefined ? LOAD_DEFAULTS.concurrency : positiveInt('--concurrency', flags.concurrency, 10_000),
  };
}

/** The soft limit on open descriptors of this process (`ulimit -n`), or null if unknown. */
export function descriptorLimit(limits: string = readLimits()): number | null {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
  if (m === null || m[1] === 'unlimited') return null;
  return Number(m[1]);
}

function readLimits(): string {
  try {
    return readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return '';
  }
}

/** Close codes after which dialling again cannot help. */
const FINAL_CODES: ReadonlySet<number> = new Set([CloseCode.Unauthorized, CloseCode.VersionMismatch]);

const monotonicNow = (): number => performance.timeOrigin + performance.now();

/** One lean session: hello, then a pong for every ping. No detector, no timers of its own. */
class LeanSession {
  transport: Transport | null = null;
  up = false;
  failures = 0;
  /** Last data seq received, acknowledged in pongs when the server offers resume. */
  private inSeq = 0;
  private acking = false;

  constructor(
    private readonly load: LoadRun,
    readonly id: string,
    readonly localAddress: string | undefined,
  ) {}

  attach(transport: Transport): void {
    this.transport = transport;
    transport.frames.subscribe({ next: (payload) => this.receive(payload), error: () => transport.destroy('protocol-error') });
    void transport.closed.then(() => this.load.ended(this));
    const options = this.load.options.intervalMs === undefined ? {} : { interval: this.load.options.intervalMs };
    transport.send(encodeMessage({ type: MessageType.Hello, version: PROTOCOL_VERSION, clientId: this.id, options }));
  }

  private receive(payload: Uint8Array): void {
    let m: Message;
    try {
      m = decodeMessage(payload);
    } catch {
      this.transport?.destroy('protocol-error');
      return;
    }
    switch (m.type) {
      case MessageType.Ping:
        this.transport?.send(encodeMessage({ type: MessageType.Pong, seq: m.seq, echoTs: m.ts, time: monotonicNow(), ...(this.acking ? { ack: this.inSeq } : {}) }));
        return;
      case MessageType.Welcome:
        this.acking = m.options.resumeWindow !== undefined;
        this.load.welcomed(this);
        return;
      case MessageType.Data:
        if (m.seq === this.inSeq + 1) this.inSeq = m.seq;
        return;
      case MessageType.Close:
        this.load.closedBy(this, m.code, m.reason);
        this.transport?.close();
        return;
      default:
        return;
    }
  }
}

/** The sessions of one `vigil load` run, with the dial queue and the counters. */
class LoadRun {
  readonly sessions: LeanSession[] = [];
  up = 0;
  lost = 0;
  failed = 0;
  lastError = '';
  fatal: string | null = null;
  private next = 0;
  private inFlight = 0;
  private stopping = false;
  private readyResolve!: () => void;
  readonly ready = new Promise<void>((resolve) => {
    this.readyResolve = resolve;
  });
  private fatalResolve!: (reason: string) => void;
  readonly refused = new Promise<string>((resolve) => {
    this.fatalResolve = resolve;
  });
  private readonly url: URL;

  constructor(readonly options: LoadOptions) {
    this.url = new URL(options.url);
    const hosts = LOAD_DEFAULTS.lastHost - LOAD_DEFAULTS.firstHost + 1;
    // A random start spreads several load processes over different source addresses.
    const offset = Math.floor(Math.random() * hosts);
    for (let i = 0; i < options.clients; i++) {
      const local = options.source === null ? undefined : `${options.source}.${LOAD_DEFAULTS.firstHost + ((offset + i) % hosts)}`;
      this.sessions.push(new LeanSession(this, `${options.idPrefix}-${i}`, local));
    }
  }

  start(): void {
    this.pump();
  }

  private pump(): void {
    while (!this.stopping && this.inFlight < this.options.concurrency && this.next < this.sessions.length) {
      this.dial(this.sessions[this.next++]!);
    }
  }

  private dial(session: LeanSession): void {
    this.inFlight++;
    nodeTransportFactory(this.url, {
      maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
      connectTimeoutMs: LOAD_DEFAULTS.handshakeTimeoutMs,
      lingerMs: 1000,
      ...(session.localAddress === undefined ? {} : { localAddress: session.localAddress }),
    }).then(
      (transport) => {
        if (this.stopping) {
          transport.destroy('local-close');
          return;
        }
        session.attach(transport);
      },
      (error: Error) => this.failedDial(session, error.message),
    );
  }

  welcomed(session: LeanSession): void {
    if (session.up) return;
    session.up = true;
    session.failures = 0;
    this.up++;
    this.inFlight--;
    if (this.up === this.sessions.length) this.readyResolve();
    this.pump();
  }

  closedBy(_session: LeanSession, code: number, reason: string): void {
    this.lastError = `closed by the server: ${code} ${reason}`;
    if (FINAL_CODES.has(code) && this.fatal === null) {
      this.fatal = `the server refused us for good: ${code} ${reason}`;
      this.fatalResolve(this.fatal);
    }
  }

  ended(session: LeanSession): void {
    session.transport = null;
    if (this.stopping) return;
    if (session.up) {
      // Kept down: a redial would hide from the server's counts that this session died.
      session.up = false;
      this.up--;
      this.lost++;
      return;
    }
    this.failedDial(session, this.lastError || 'closed before the handshake completed');
  }

  private failedDial(session: LeanSession, message: string): void {
    this.inFlight--;
    this.failed++;
    this.lastError = message;
    if (this.stopping) return;
    const delay = Math.min(LOAD_DEFAULTS.retryMaxMs, LOAD_DEFAULTS.retryBaseMs * 2 ** session.failures++);
    // The retry holds its slot: a server refusing us should not get more dials at once.
    this.inFlight++;
    setTimeout(() => {
      this.inFlight--;
      if (!this.stopping) this.dial(session);
    }, delay * (0.5 + Math.random() / 2)).unref();
  }

  /** Orderly close of every session (a `close`, then half-close); resolves once all transports ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    const ends: Promise<unknown>[] = [];
    const bye = encodeMessage({ type: MessageType.Close, code: CloseCode.Normal, reason: 'load ending' });
    for (const s of this.sessions) {
      const t = s.transport;
      if (t === null) continue;
      ends.push(t.closed);
      t.send(bye);
      t.close(CloseCode.Normal, 'load ending');
    }
    await Promise.all(ends);
  }
}

function progress(run: LoadRun, startedAt: number): string {
  const s = (performance.now() - startedAt) / 1000;
  const rate = s > 0 ? Math.round(run.up / s) : 0;
  const failed = run.failed > 0 ? `, ${run.failed} failed dials (last: ${run.lastError})` : '';
  return `vigil load: ${run.up}/${run.sessions.length} up after ${s.toFixed(1)} s (${rate}/s)${failed}\n`;
}

/** Runs `vigil load` until a shutdown signal; resolves with the exit code. */
export async function runLoad(argv: readonly string[]): Promise<ExitCode> {
  const options = parseLoadArgs(argv);
  if (options === 'help') {
    writeLine(LOAD_USAGE);
    return ExitCode.Ok;
  }
  const limit = descriptorLimit();
  if (limit !== null && options.clients > limit - LOAD_DEFAULTS.reservedDescriptors) {
    throw new UsageError(
      'load',
      '--clients',
      `--clients ${options.clients} needs as many descriptors, but this process may open ${limit} (ulimit -n) and keeps ${LOAD_DEFAULTS.reservedDescriptors} for itself: run several load processes`,
    );
  }
  const shutdown = shutdownRequest();
  const run = new LoadRun(options);
  const startedAt = performance.now();
  const ticker = setInterval(() => process.stderr.write(progress(run, startedAt)), LOAD_DEFAULTS.progressMs);
  run.start();
  const first = await Promise.race([run.ready.then(() => 'ready' as const), shutdown.requested, run.refused.then((r) => ({ refused: r }))]);
  clearInterval(ticker);
  let outcome: Awaited<typeof shutdown.requested> | { refused: string };
  if (first === 'ready') {
    process.stderr.write(progress(run, startedAt));
    writeJsonLine({ event: 'ready', clients: run.sessions.length });
    let reported = 0;
    const watch = setInterval(() => {
      if (run.lost === reported) return;
      reported = run.lost;
      process.stderr.write(`vigil load: ${run.lost} sessions lost (not redialled); ${run.up} up\n`);
    }, LOAD_DEFAULTS.progressMs);
    outcome = await Promise.race([shutdown.requested, run.refused.then((r) => ({ refused: r }))]);
    clearInterval(watch);
  } else {
    outcome = first;
  }
  await within(run.stop(), LOAD_DEFAULTS.shutdownMs);
  if (typeof outcome === 'object') {
    process.stderr.write(`vigil load: ${outcome.refused}\n`);
    return ExitCode.Failure;
  }
  return ExitCode.Ok;
}
