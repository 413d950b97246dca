/**
 * Chat server entry point:
 *   node --import tsx examples/chat/src/server.ts [--tcp PORT] [--ws PORT] [--host HOST] [--interval MS] [--timeout MS]
 * Prints one JSON line per event on stdout: `listening` first, then every presence
 * change. Without --tcp and --ws it listens on TCP 7400 and WebSocket 7401.
 */
import { parseArgs } from 'node:util';
import { ChatServer } from './chat-server.js';

/** Demo timing, ms: quicker than the library defaults (2000/6000) so a frozen client drops out in seconds. */
const DEMO_INTERVAL_MS = 1000;
const DEMO_TIMEOUT_MS = 3000;
const DEFAULT_TCP_PORT = 7400;
const DEFAULT_WS_PORT = 7401;

function fail(message: string): never {
  process.stderr.write(`${JSON.stringify({ event: 'error', message })}\n`);
  process.exit(2);
}

function integer(flag: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) fail(`--${flag} must be an integer between ${min} and ${max}, got "${raw}"`);
  return n;
}

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function readArgs() {
  // A leading `--` is what `npm run server -- --tcp ...` leaves behind.
  const args = process.argv.slice(2);
  if (args[0] === '--') args.shift();
  try {
    return parseArgs({
      args,
      options: {
        tcp: { type: 'string' },
        ws: { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        interval: { type: 'string' },
        timeout: { type: 'string' },
      },
    }).values;
  } catch (error) {
    return fail((error as Error).message);
  }
}

async function main(): Promise<void> {
  const values = readArgs();
  let tcp = integer('tcp', values.tcp, 0, 65535);
  let ws = integer('ws', values.ws, 0, 65535);
  if (tcp === undefined && ws === undefined) [tcp, ws] = [DEFAULT_TCP_PORT, DEFAULT_WS_PORT];
  const intervalMs = integer('interval', values.interval, 1, 60_000) ?? DEMO_INTERVAL_MS;
  const timeoutMs = integer('timeout', values.timeout, 2, 600_000) ?? Math.max(DEMO_TIMEOUT_MS, intervalMs * 3);
  const host = values.host;

  let chat: ChatServer;
  try {
    chat = new ChatServer({
      host,
      heartbeat: { intervalMs, timeoutMs },
      ...(tcp !== undefined ? { tcp: { port: tcp } } : {}),
      ...(ws !== undefined ? { ws: { port: ws } } : {}),
    });
  } catch (error) {
    fail((error as Error).message);
  }
  chat.deliveries$.subscribe(({ message }) => {
    if (message.type === 'presence') print({ event: 'presence', name: message.name, state: message.state, ...(message.cause ? { cause: message.cause } : {}) });
  });

  const ports = await chat.listen();
  const urls = [
    ...(ports.tcp !== undefined ? [`tcp://${host}:${ports.tcp}`] : []),
    ...(ports.ws !== undefined ? [`ws://${host}:${ports.ws}/`] : []),
  ];
  print({ event: 'listening', host, ...ports, intervalMs, timeoutMs, urls });

  let stopping = false;
  const stop = (): void => {
    if (stopping) process.exit(1);
    stopping = true;
    void chat.close().then(() => {
      print({ event: 'closed' });
      process.exit(0);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${JSON.stringify({ event: 'error', message: error instanceof Error ? error.message : String(error) })}\n`);
  process.exit(1);
});
