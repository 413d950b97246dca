/**
 * Terminal chat client entry point:
 *   node --import tsx examples/chat/src/client.ts URL --name NAME [--id ID]
 * Reads lines from stdin (`/who` lists the room, `/quit` leaves), prints chat and
 * presence lines, and sends `join` again after every reconnect, so a member that
 * was frozen or cut off rejoins by itself.
 */
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { VigilClient } from '@vigil/client';
import { parseServerMessage, type ClientMessage } from './chat-protocol.js';
import { RosterView, renderConnectionChange, renderMessage } from './render.js';

/** Most lines kept while not connected. */
const OUTBOX_LIMIT = 100;
const USAGE = 'usage: client.ts URL --name NAME [--id ID]   (URL is tcp://host:port or ws://host:port/)';

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

function readArgs() {
  try {
    // A leading `--` is what `npm run client -- URL ...` leaves behind.
    const args = process.argv.slice(2);
    if (args[0] === '--') args.shift();
    return parseArgs({ args, allowPositionals: true, options: { name: { type: 'string' }, id: { type: 'string' } } });
  } catch (error) {
    return fail(`${(error as Error).message}\n${USAGE}`);
  }
}

async function main(): Promise<void> {
  const { values, positionals } = readArgs();
  const url = positionals[0];
  const name = values.name;
  if (url === undefined || positionals.length > 1 || name === undefined || name.trim() === '') fail(USAGE);
  // One peer id for the life of the process: the server sees a reconnect as the same
  // peer coming back, while two people who pick the same name stay distinct.
  const slug = name.trim().toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 16);
  const id = values.id ?? `${slug === '' ? 'member' : slug}-${randomBytes(3).toString('hex')}`;

  let client: VigilClient<unknown, ClientMessage>;
  try {
    client = new VigilClient<unknown, ClientMessage>(url, { id });
  } catch (error) {
    fail(`${(error as Error).message}\n${USAGE}`);
  }
  const roster = new RosterView();
  // Lines typed while not connected, sent after the next join.
  const outbox: string[] = [];
  let inSession = false;
  let inputEnded = false;
  const leave = (): void => {
    void client.close();
  };

  client.changes$.subscribe((change) => {
    // Every new session (first connect or reconnect) starts with a join.
    if (change.from === 'connecting' && change.to === 'alive') {
      inSession = client.send({ type: 'join', name });
      if (inSession) for (const text of outbox.splice(0)) client.send({ type: 'say', text });
      if (inSession && inputEnded) leave();
    }
    if (change.to === 'dead' || change.to === 'closed') {
      inSession = false;
      roster.clear();
    }
    const line = renderConnectionChange(change, new Date());
    if (line !== null) print(line);
  });
  client.messages$.subscribe((body) => {
    const message = parseServerMessage(body);
    if (message === null) return;
    roster.apply(message);
    print(renderMessage(message, new Date(), roster));
  });
  client.status$.subscribe({
    // Completes once the client is closed for good: by us, or refused by the server.
    complete: () => {
      if (client.status.cause === 'local-close') process.exit(0);
      print(`* giving up: ${client.lastError?.message ?? client.status.cause ?? 'closed'}`);
      process.exit(1);
    },
  });

  const input = createInterface({ input: process.stdin, terminal: false });
  input.on('line', (line) => {
    const text = line.trim();
    if (text === '') return;
    if (text === '/quit') return leave();
    if (text === '/who') return print(`* in the room: ${roster.describe()}`);
    if (inSession && client.send({ type: 'say', text })) return;
    if (outbox.length >= OUTBOX_LIMIT) return print('* not connected and too many lines waiting; line dropped');
    outbox.push(text);
  });
  // End of input (a pipe ran dry): leave, once any lines typed while offline went out.
  input.on('close', () => {
    inputEnded = true;
    if (outbox.length === 0) leave();
  });
  process.on('SIGINT', leave);
  process.on('SIGTERM', leave);

  print(`* connecting to ${url} as ${name}`);
  await client.connect();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
