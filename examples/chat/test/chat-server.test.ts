/**
 * Smoke test over real loopback sockets: the chat server in-process on port 0 with a
 * short heartbeat, three in-process members (TCP and WebSocket), and carol, the
 * terminal client in a child process, who is frozen (SIGSTOP), thawed and killed.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { resolve } from 'node:path';
import { VigilClient } from '@vigil/client';
import { ChatServer } from '../src/chat-server.js';
import { parseServerMessage, type ClientMessage, type PresenceMessage, type ServerMessage } from '../src/chat-protocol.js';

const INTERVAL_MS = 100;
const TIMEOUT_MS = 400;
/** How late after SIGSTOP the others may learn that carol went offline. */
const OFFLINE_BOUND_MS = TIMEOUT_MS + 250;
/** Deadline for steps whose time is not under test (a child starting tsx, a reconnect). */
const STEP_DEADLINE_MS = 15_000;
const NOW = 1_700_000_000_000;
const REPO_ROOT = resolve(__dirname, '../../..');

interface Received {
  readonly message: ServerMessage;
  /** `performance.now()` on arrival. */
  readonly at: number;
}

class Member {
  readonly inbox: Received[] = [];

  private constructor(
    readonly name: string,
    readonly client: VigilClient<unknown, ClientMessage>,
  ) {
    client.messages$.subscribe((body) => {
      const message = parseServerMessage(body);
      if (message !== null) this.inbox.push({ message, at: performance.now() });
    });
  }

  static async join(url: string, name: string): Promise<Member> {
    const member = new Member(name, new VigilClient<unknown, ClientMessage>(url, { id: name, reconnect: false }));
    members.push(member);
    await member.client.connect();
    member.client.send({ type: 'join', name });
    await waitFor(`${name}'s roster`, () => member.messages('roster')[0]);
    return member;
  }

  messages<T extends ServerMessage['type']>(type: T, from = 0): Extract<ServerMessage, { type: T }>[] {
    return this.inbox.slice(from).flatMap(({ message }) => (message.type === type ? [message as Extract<ServerMessage, { type: T }>] : []));
  }

  /** Presence changes of `name` received from inbox index `from` on, with arrival times. */
  presenceOf(name: string, from: number): { message: PresenceMessage; at: number }[] {
    return this.inbox
      .slice(from)
      .flatMap(({ message, at }) => (message.type === 'presence' && message.name === name ? [{ message, at }] : []));
  }
}

/** Polls until `probe` returns a value; fails with `what` after `deadlineMs`. */
async function waitFor<T>(what: string, probe: () => T | undefined | false, deadlineMs = STEP_DEADLINE_MS): Promise<T> {
  const deadline = performance.now() + deadlineMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

let chat: ChatServer | undefined;
let tcpUrl: string;
let wsUrl: string;
const members: Member[] = [];
let alice: Member;
let bob: Member;
let dave: Member;
let carol: ChildProcessWithoutNullStreams | null = null;
let carolOut = '';
let carolExited: Promise<void> = Promise.resolve();

function others(): Member[] {
  return [alice, bob, dave];
}

/** Where each member's inbox stands now, to look only at what arrives afterwards. */
function marks(): (m: Member) => number {
  const at = new Map(others().map((m) => [m, m.inbox.length]));
  return (m) => at.get(m) ?? 0;
}

beforeAll(async () => {
  const server = new ChatServer({
    tcp: { port: 0 },
    ws: { port: 0 },
    heartbeat: { intervalMs: INTERVAL_MS, timeoutMs: TIMEOUT_MS },
    lingerMs: 200,
    wallClock: () => NOW,
  });
  chat = server;
  const ports = await server.listen();
  tcpUrl = `tcp://127.0.0.1:${ports.tcp}`;
  wsUrl = `ws://127.0.0.1:${ports.ws}/`;
});

afterAll(async () => {
  const child = carol;
  if (child !== null && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
  await carolExited;
  await Promise.all(members.map((m) => m.client.close()));
  await chat?.close();
});

it('members on TCP and WebSocket see each other in the roster and exchange a message', async () => {
  alice = await Member.join(tcpUrl, 'alice');
  bob = await Member.join(wsUrl, 'bob');
  dave = await Member.join(tcpUrl, 'dave');

  expect(dave.messages('roster')).toEqual([
    {
      type: 'roster',
      members: [
        { name: 'alice', state: 'online' },
        { name: 'bob', state: 'online' },
        { name: 'dave', state: 'online' },
      ],
      you: 'dave',
    },
  ]);
  expect(alice.messages('presence')).toEqual([
    { type: 'presence', name: 'bob', state: 'online' },
    { type: 'presence', name: 'dave', state: 'online' },
  ]);

  const from = marks();
  alice.client.send({ type: 'say', text: 'hi all' });
  for (const m of others()) {
    await waitFor(`${m.name} to hear alice`, () => m.messages('said', from(m))[0]);
    expect(m.messages('said', from(m))).toEqual([{ type: 'said', from: 'alice', text: 'hi all', at: NOW }]);
  }
});

it('carol joins from the terminal client in a child process and chats', async () => {
  const from = marks();
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/chat/src/client.ts', wsUrl, '--name', 'carol'], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  carol = child;
  carolExited = new Promise((r) => child.once('exit', () => r()));
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (carolOut += chunk));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (carolOut += chunk));

  for (const m of others()) await waitFor(`${m.name} to see carol online (carol printed: ${carolOut})`, () => m.presenceOf('carol', from(m))[0]);
  for (const m of others()) expect(m.presenceOf('carol', from(m)).map((p) => p.message)).toEqual([{ type: 'presence', name: 'carol', state: 'online' }]);
  await waitFor('carol to print her roster', () => /\* you are carol; in the room: alice, bob, dave, carol\n/.test(carolOut));

  child.stdin.write('hello from carol\n');
  for (const m of others()) await waitFor(`${m.name} to hear carol`, () => m.messages('said', from(m)).find((s) => s.from === 'carol'));
  alice.client.send({ type: 'say', text: 'welcome carol' });
  await waitFor('carol to print alice', () => /<alice> welcome carol\n/.test(carolOut));
});

it('a frozen carol turns slipping, then offline within timeout + 250 ms of SIGSTOP', async () => {
  const child = carol!;
  const from = marks();
  const stoppedAt = performance.now();
  child.kill('SIGSTOP');

  for (const m of others()) {
    await waitFor(`${m.name} to see carol offline`, () => m.presenceOf('carol', from(m)).find((p) => p.message.state === 'offline'));
  }
  for (const m of others()) {
    const seen = m.presenceOf('carol', from(m));
    expect(seen.map((p) => p.message)).toEqual([
      { type: 'presence', name: 'carol', state: 'slipping', cause: 'heartbeat-timeout' },
      { type: 'presence', name: 'carol', state: 'offline', cause: 'heartbeat-timeout' },
    ]);
    expect(seen[1]!.at - stoppedAt).toBeLessThanOrEqual(OFFLINE_BOUND_MS);
  }
  expect(chat!.room.roster().map((r) => r.name)).toEqual(['alice', 'bob', 'dave']);
});

it('carol rejoins by herself once thawed (SIGCONT)', async () => {
  const child = carol!;
  const from = marks();
  const printed = carolOut.length;
  child.kill('SIGCONT');

  for (const m of others()) await waitFor(`${m.name} to see carol back`, () => m.presenceOf('carol', from(m))[0]);
  for (const m of others()) expect(m.presenceOf('carol', from(m)).map((p) => p.message)).toEqual([{ type: 'presence', name: 'carol', state: 'online' }]);
  await waitFor('carol to print her new roster', () => /\* you are carol; in the room: alice, bob, dave, carol\n/.test(carolOut.slice(printed)));
  // She noticed the server going silent while she was frozen, in her own words.
  expect(carolOut.slice(printed)).toMatch(/\* connection (lost|closed) \([a-z-]+\); reconnecting\n/);
});

it('a crashed carol (SIGKILL) goes offline with the transport cause', async () => {
  const child = carol!;
  const from = marks();
  const killedAt = performance.now();
  child.kill('SIGKILL');
  await carolExited;

  for (const m of others()) {
    await waitFor(`${m.name} to see carol offline`, () => m.presenceOf('carol', from(m))[0]);
  }
  for (const m of others()) {
    const seen = m.presenceOf('carol', from(m));
    expect(seen).toHaveLength(1);
    const [{ message, at }] = seen as [{ message: PresenceMessage; at: number }];
    expect(message).toMatchObject({ type: 'presence', name: 'carol', state: 'offline' });
    // The kernel closes a killed process's socket: FIN, or RST if a ping sat unread.
    expect(['closed-by-peer', 'reset']).toContain(message.cause);
    expect(at - killedAt).toBeLessThanOrEqual(OFFLINE_BOUND_MS);
  }
});
