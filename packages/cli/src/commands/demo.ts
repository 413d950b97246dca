/**
 * `vigil demo`: a server (TCP, WebSocket, HTTP API) and six simulated clients in child
 * processes, some misbehaving on a repeating schedule, with a live liveness table.
 * On a terminal the table is redrawn four times a second; otherwise plain lines are
 * printed. Every child is stopped on exit, whatever the reason.
 */
import type { Logger } from 'pino';
import { createDashboardHandler } from '@vigil/dashboard';
import { VigilServer, serveHttpApi, type HttpApiServer, type ServerAddresses } from '@vigil/server';
import { ExitCode, parseCommandLine, parsePort, parseSeconds } from '../internal/args.js';
import { cliLogger, createCliLogger, parseLogLevel, type LogLevel } from '../internal/logger.js';
import { shutdownRequest, within, writeLine } from '../internal/process-io.js';
import { DemoChildren, demoClientScript, resolveTsxLoader, type ChildEvent } from '../demo/children.js';
import { DEMO_PEERS, DEMO_TIMING, dueActions, nextAction } from '../demo/scenario.js';
import { elapsed, formatAction, formatChange, renderFrame, renderTable, tableRows, type ViewOptions } from '../demo/view.js';

export const DEMO_USAGE = `Usage: vigil demo [options]

Starts a Vigil server and six simulated clients (child processes, over TCP and
WebSocket). On a repeating 40 s schedule one client freezes (SIGSTOP, then
SIGCONT), one crashes (SIGKILL, then respawned) and one answers slowly for a
while; the rest stay healthy. Shows a live liveness table (plain lines when
stdout is not a terminal) until Ctrl-C. Heartbeat: 1000 ms, timeout 3000 ms.

Options:
  --duration SECONDS  stop by itself after this long (default: run until Ctrl-C)
  --tcp PORT          TCP port (default 7400, or a free one if that is busy)
  --ws PORT           WebSocket port (default 7401, or a free one if busy)
  --http PORT         HTTP API port (default 7402, or a free one if busy)
  --log-level LEVEL   server logs on stderr: fatal, error, warn, info, debug,
                      trace or silent (default error)
  -h, --help          show this help`;

const FLAGS = {
  duration: { type: 'string' },
  tcp: { type: 'string' },
  ws: { type: 'string' },
  http: { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Ports tried first; a busy default falls back to a free port, a port given as a flag does not. */
export const DEMO_DEFAULT_PORTS = { tcp: 7400, ws: 7401, http: 7402 } as const;

export interface DemoOptions {
  /** Stop after this long, ms; null to run until a signal. */
  readonly durationMs: number | null;
  /** Ports given as flags; null for the default-with-fallback. */
  readonly tcp: number | null;
  readonly ws: number | null;
  readonly http: number | null;
  readonly logLevel: LogLevel;
}

/** @throws UsageError naming the flag (exit code 2). */
export function parseDemoArgs(argv: readonly string[]): DemoOptions | 'help' {
  const { flags, spelled } = parseCommandLine('demo', FLAGS, argv, 0);
  if (flags.help) return 'help';
  const port = (name: 'tcp' | 'ws' | 'http'): number | null => {
    const raw = flags[name];
    return raw === undefined ? null : parsePort('demo', spelled[name] ?? `--${name}`, raw);
  };
  return {
    durationMs: flags.duration === undefined ? null : Math.round(parseSeconds('demo', '--duration', flags.duration) * 1000),
    tcp: port('tcp'),
    ws: port('ws'),
    http: port('http'),
    logLevel: flags['log-level'] === undefined ? 'error' : parseLogLevel('demo', '--log-level', flags['log-level']),
  };
}

/** Redraw period of the live table, ms (four times a second). */
const FRAME_MS = 250;
/** How often plain output repeats the whole table, ms. */
const PLAIN_TABLE_MS = 10_000;
/** Log lines kept under the live table. */
const RECENT_LINES = 10;
/** Time children get to leave in order before SIGKILL, ms (a slow child may be mid-block for 2000). */
const CHILD_GRACE_MS = 2500;
/** Most time allowed for the server's orderly close, ms. */
const SERVER_CLOSE_MS = 4000;

function addressInUse(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'EADDRINUSE';
}

async function startServer(options: DemoOptions, logger: Logger): Promise<{ server: VigilServer; bound: Required<ServerAddresses> }> {
  const attempt = async (tcp: number, ws: number): Promise<{ server: VigilServer; bound: Required<ServerAddresses> }> => {
    const server = new VigilServer({ host: '127.0.0.1', tcp: { port: tcp }, ws: { port: ws }, heartbeat: DEMO_TIMING, logger });
    try {
      const bound = await server.listen();
      return { server, bound: { tcp: bound.tcp ?? tcp, ws: bound.ws ?? ws } };
    } catch (error) {
      await server.close();
      throw error;
    }
  };
  try {
    return await attempt(options.tcp ?? DEMO_DEFAULT_PORTS.tcp, options.ws ?? DEMO_DEFAULT_PORTS.ws);
  } catch (error) {
    if (!addressInUse(error) || (options.tcp !== null && options.ws !== null)) throw error;
    return attempt(options.tcp ?? 0, options.ws ?? 0);
  }
}

async function startHttp(server: VigilServer, options: DemoOptions): Promise<HttpApiServer> {
  try {
    return await serveHttpApi(server, { port: options.http ?? DEMO_DEFAULT_PORTS.http, host: '127.0.0.1', fallback: createDashboardHandler(server) });
  } catch (error) {
    if (!addressInUse(error) || options.http !== null) throw error;
    return serveHttpApi(server, { port: 0, host: '127.0.0.1', fallback: createDashboardHandler(server) });
  }
}

/** Output on a terminal: the whole frame redrawn in place. */
class LiveScreen {
  private started = false;

  draw(lines: readonly string[]): void {
    // Hide the cursor and turn line wrap off, so a narrow terminal clips instead of scrolling.
    const prefix = this.started ? '\x1b[H' : '\x1b[?25l\x1b[?7l\x1b[2J\x1b[H';
    this.started = true;
    process.stdout.write(`${prefix}${lines.map((l) => `${l}\x1b[K`).join('\n')}\n\x1b[J`);
  }

  /** Puts the terminal back (cursor, line wrap); safe to call more than once. */
  restore(): void {
    if (!this.started) return;
    this.started = false;
    process.stdout.write('\x1b[?7h\x1b[?25h');
  }
}

function describeListenError(error: unknown): string {
  const e = error as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e.code === 'EADDRINUSE') return `cannot listen on ${e.address ?? '?'}:${e.port ?? '?'}: address already in use`;
  return `cannot start the server: ${e.message}`;
}

/** Runs `vigil demo` until a signal or `--duration`; resolves with the exit code. */
export async function runDemo(argv: readonly string[]): Promise<ExitCode> {
  const options = parseDemoArgs(argv);
  if (options === 'help') {
    writeLine(DEMO_USAGE);
    return ExitCode.Ok;
  }
  const logger = createCliLogger(options.logLevel, 'demo');
  const cli = cliLogger(logger);
  let loader: string;
  try {
    loader = resolveTsxLoader();
  } catch (error) {
    process.stderr.write(`vigil demo: ${(error as Error).message}\n`);
    return ExitCode.Failure;
  }
  const shutdown = shutdownRequest();
  const tty = process.stdout.isTTY === true;
  const view: ViewOptions = { color: tty && process.env['NO_COLOR'] === undefined };

  let server: VigilServer;
  let bound: Required<ServerAddresses>;
  let http: HttpApiServer;
  try {
    ({ server, bound } = await startServer(options, logger));
  } catch (error) {
    process.stderr.write(`vigil demo: ${describeListenError(error)}\n`);
    return ExitCode.Failure;
  }
  try {
    http = await startHttp(server, options);
  } catch (error) {
    process.stderr.write(`vigil demo: ${describeListenError(error)}\n`);
    await within(server.close(), SERVER_CLOSE_MS);
    return ExitCode.Failure;
  }
  const apiUrl = `http://127.0.0.1:${http.port}/`;
  const startedAt = server.engine.now();
  const sinceStart = (): number => server.engine.now() - startedAt;

  const screen = tty ? new LiveScreen() : null;
  const recent: string[] = [];
  const log = (line: string): void => {
    if (screen === null) {
      writeLine(line);
      return;
    }
    recent.push(line);
    if (recent.length > RECENT_LINES) recent.splice(0, recent.length - RECENT_LINES);
  };

  const onChildEvent = (event: ChildEvent): void => {
    const at = elapsed(sinceStart());
    switch (event.kind) {
      case 'spawned': {
        const peer = DEMO_PEERS.find((p) => p.id === event.id);
        log(`${at}  spawned ${event.id} (${peer?.transport ?? '?'}) pid ${event.pid}`);
        return;
      }
      case 'exited':
        if (!event.expected) {
          const how = event.signal ?? `code ${String(event.code)}`;
          log(`${at}  ${event.id} (pid ${event.pid}) exited unexpectedly (${how})${event.lastError ? `: ${event.lastError}` : ''}; respawning`);
        }
        return;
      case 'spawn-failed':
        log(`${at}  could not start ${event.id}: ${event.error}`);
        return;
    }
  };
  const children = new DemoChildren({
    loader,
    script: demoClientScript(),
    urlOf: (peer) => (peer.transport === 'tcp' ? `tcp://127.0.0.1:${bound.tcp}` : `ws://127.0.0.1:${bound.ws}/`),
    onEvent: onChildEvent,
  });

  // Safety nets: whatever ends this process, no child outlives it.
  const onExit = (): void => {
    children.killAllNow();
    screen?.restore();
  };
  const onFatal = (error: unknown): void => {
    onExit();
    process.stderr.write(`vigil demo: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(ExitCode.Failure);
  };
  process.on('exit', onExit);
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);

  let stopping = false;
  const frame = (): string[] => {
    const now = sinceStart();
    const next = nextAction(now);
    return renderFrame(
      {
        apiUrl,
        tcpPort: bound.tcp,
        wsPort: bound.ws,
        intervalMs: server.config.intervalMs,
        timeoutMs: server.config.timeoutMs,
        suspectAfterMs: server.config.suspectAfterMs,
        uptimeMs: now,
        remainingMs: options.durationMs === null ? null : Math.max(0, options.durationMs - now),
        stopping,
        next: next === null ? null : { action: next, inMs: next.atMs - now },
        rows: tableRows(server.snapshot(), DEMO_PEERS, (id) => children.stateOf(id)),
        recent,
      },
      view,
    );
  };
  const printTable = (): void => {
    for (const line of renderTable(tableRows(server.snapshot(), DEMO_PEERS, (id) => children.stateOf(id)), view)) writeLine(`    ${line}`);
  };

  if (screen === null) {
    writeLine(`vigil demo: ${apiUrl}`);
    writeLine(
      `  server tcp://127.0.0.1:${bound.tcp} ws://127.0.0.1:${bound.ws}; ping every ${server.config.intervalMs} ms, ` +
        `suspect after ${server.config.suspectAfterMs} ms, dead after ${server.config.timeoutMs} ms of silence`,
    );
  }
  server.changes$.subscribe((change) => log(formatChange(change, startedAt, view)));
  children.startAll(DEMO_PEERS);
  screen?.draw(frame());

  let scheduledUpTo = 0;
  let lastTable = 0;
  const ticker = setInterval(() => {
    const now = sinceStart();
    for (const action of dueActions(scheduledUpTo, now)) if (children.act(action)) log(formatAction(action, now, view));
    scheduledUpTo = now;
    if (screen !== null) screen.draw(frame());
    else if (now - lastTable >= PLAIN_TABLE_MS) {
      lastTable = now;
      printTable();
    }
  }, FRAME_MS);

  let durationTimer: NodeJS.Timeout | undefined;
  const duration = new Promise<'duration'>((resolve) => {
    if (options.durationMs !== null) durationTimer = setTimeout(() => resolve('duration'), options.durationMs);
  });
  const reason = await Promise.race([shutdown.requested, duration]);
  stopping = true;
  clearTimeout(durationTimer);
  clearInterval(ticker);
  cli.info({ reason }, 'stopping the demo');
  log(`${elapsed(sinceStart())}  stopping (${reason}): ending the clients, then the server`);
  if (screen !== null) screen.draw(frame());
  await children.stopAll(CHILD_GRACE_MS);
  const closed = await within(Promise.all([server.close(), http.close()]), SERVER_CLOSE_MS);
  if (closed === 'timeout') cli.warn({ deadlineMs: SERVER_CLOSE_MS }, 'connections did not close in time; leaving anyway');
  if (screen !== null) {
    screen.draw(frame());
    screen.restore();
  } else {
    printTable();
    writeLine(`${elapsed(sinceStart())}  stopped`);
  }
  process.off('uncaughtException', onFatal);
  process.off('unhandledRejection', onFatal);
  return ExitCode.Ok;
}
