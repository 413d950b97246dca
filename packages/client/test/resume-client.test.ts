/**
 * The client's side of resume and limits, against a scripted fake server: it only asks
 * to resume after a welcome that offered it, with its session and ack; it refuses (close
 * 4007) a resume it cannot replay and reports the lost session with the bodies the
 * server never acknowledged; it acknowledges what it receives; and a goaway
 * `too-many-pings` halves the rate of its own pings.
 */
import { CloseCode, MessageType, PROTOCOL_VERSION, type HelloMessage, type WelcomeOptions } from '@vigil/protocol';
import { VigilClient, type SessionLost } from '@vigil/client';
import { FakeServer, Teardown, until, type FakeConnection } from './support/fake-server.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

function welcome(conn: FakeConnection, hello: HelloMessage, sessionId: string, options: WelcomeOptions): void {
  conn.send({ type: MessageType.Welcome, version: PROTOCOL_VERSION, sessionId, peerId: hello.clientId, interval: 100, timeout: 300, serverTime: Date.now(), options });
}

test('asks to resume only after a resumable welcome; refuses a resume it cannot replay (4007) and reports what was lost', async () => {
  let sessions = 0;
  const fake = await FakeServer.start(
    'tcp',
    (conn, m) => {
      if (m.type !== MessageType.Hello) return;
      sessions++;
      // The second welcome claims a resume, with an ack beyond anything the client sent.
      if (sessions === 2) welcome(conn, m, 's1', { resumed: true, ack: 10, resumeWindow: 1000 });
      else welcome(conn, m, `s${sessions}`, { resumeWindow: 1000, ack: 0 });
    },
    teardown,
  );
  const client = new VigilClient<string, string>(fake.url, { id: 'r', reconnect: { initialMs: 5, maxMs: 10 } });
  teardown.add(() => client.close());
  const lost: SessionLost[] = [];
  client.sessionLost$.subscribe((l) => lost.push(l));
  await client.connect();
  expect(fake.connections[0]!.received[0]).toEqual({ type: MessageType.Hello, version: PROTOCOL_VERSION, clientId: 'r', options: {} });
  for (const body of ['a', 'b', 'c']) client.send(body);
  await until(() => fake.connections[0]!.received.length === 4, 'three data messages');
  expect(client.backlog).toBe(3);
  fake.connections[0]!.destroy();

  await until(() => lost.length === 1, 'the client to give the session up');
  await until(() => fake.connections[1]!.received.length === 2, 'its close to reach the server');
  expect(fake.connections[1]!.received[0]).toEqual({ type: MessageType.Hello, version: PROTOCOL_VERSION, clientId: 'r', options: { resume: { session: 's1', ack: 0 } } });
  expect(fake.connections[1]!.received.at(-1)).toEqual({ type: MessageType.Close, code: CloseCode.ResumeRejected, reason: 'cannot replay what the server missed' });
  expect(lost[0]).toMatchObject({ sessionId: 's1', unacknowledged: ['a', 'b', 'c'], complete: true });
  // The next attempt starts afresh, without a resume request.
  await until(() => fake.connections.length === 3 && client.status.state === 'alive', 'a new session');
  expect(fake.connections[2]!.received[0]).toEqual({ type: MessageType.Hello, version: PROTOCOL_VERSION, clientId: 'r', options: {} });
  expect(client.sessionId).toBe('s3');
});

test('acknowledges what it receives on a resumable session: a standalone ack every 32 messages, or soon after fewer', async () => {
  const fake = await FakeServer.start(
    'ws',
    (conn, m) => {
      if (m.type === MessageType.Hello) welcome(conn, m, 'acked', { resumeWindow: 1000, ack: 0 });
    },
    teardown,
  );
  const client = new VigilClient(fake.url, { id: 'acker' });
  teardown.add(() => client.close());
  await client.connect();
  const conn = fake.connections[0]!;
  for (let seq = 1; seq <= 40; seq++) conn.send({ type: MessageType.Data, seq, body: seq });
  await until(() => conn.received.filter((m) => m.type === MessageType.Ack).length === 2, 'two acks');
  expect(conn.received.filter((m) => m.type === MessageType.Ack)).toEqual([
    { type: MessageType.Ack, ack: 32 },
    { type: MessageType.Ack, ack: 40 },
  ]);
});

test('a goaway too-many-pings halves the rate of its own pings, and it reconnects after the delay', async () => {
  let sessions = 0;
  const fake = await FakeServer.start(
    'tcp',
    (conn, m) => {
      if (m.type === MessageType.Hello) {
        sessions++;
        welcome(conn, m, `p${sessions}`, { minPingInterval: 300 });
      }
      if (m.type === MessageType.Ping && sessions === 1) {
        conn.send({ type: MessageType.GoAway, code: CloseCode.TooManyPings, reconnectDelay: 50, reason: 'too-many-pings' });
        conn.send({ type: MessageType.Close, code: CloseCode.TooManyPings, reason: 'too-many-pings' });
      }
    },
    teardown,
  );
  const client = new VigilClient(fake.url, { id: 'pinger', reconnect: { initialMs: 1, maxMs: 1 } });
  teardown.add(() => client.close());
  await client.connect();
  expect(client.probe()).toBe(true);
  await until(() => client.reconnects === 1 && client.status.state === 'alive', 'back after the goaway');
  const closedAt = fake.connections[0]!.sentAt.at(-1)!;
  expect(fake.connections[1]!.acceptedAt - closedAt).toBeGreaterThanOrEqual(45);
  // minPingInterval 300 advertised, doubled to 600 by the goaway: 350 ms later is still too soon.
  const sentAt = performance.now();
  expect(client.probe()).toBe(true);
  await new Promise((r) => setTimeout(r, 350));
  if (performance.now() - sentAt < 600) expect(client.probe()).toBe(false);
  await new Promise((r) => setTimeout(r, 300));
  expect(client.probe()).toBe(true);
});
