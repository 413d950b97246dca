/**
 * `VigilClient` against a scripted fake server over real loopback TCP and WebSocket:
 * the watchdog on a silent server, answering pings and learning RTT and clock offset,
 * refusals that stop reconnecting, the client's handshake deadline, `goaway`, and
 * configuration errors.
 */
import { monotonicNow, type StateChange } from '@vigil/core';
import { CloseCode, ConfigError, ErrorCode, MessageType, PROTOCOL_VERSION, VigilError, type HelloMessage } from '@vigil/protocol';
import { VigilClient, type ClientStatus, type VigilClientOptions } from '@vigil/client';
import { FakeServer, Teardown, firstMatch, until, type FakeConnection, type Kind } from './support/fake-server.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

function newClient(url: string, options: VigilClientOptions = {}): VigilClient {
  const client = new VigilClient(url, options);
  teardown.add(() => client.close());
  return client;
}

function welcome(conn: FakeConnection, hello: HelloMessage, interval: number, timeout: number, sessionId: string): void {
  conn.send({ type: MessageType.Welcome, version: PROTOCOL_VERSION, sessionId, peerId: hello.clientId, interval, timeout, serverTime: Date.now(), options: {} });
}

function label(s: ClientStatus): string {
  return s.cause === null ? s.state : `${s.state}:${s.cause}`;
}

describe.each<Kind>(['tcp', 'ws'])('VigilClient over %s', (kind) => {
  test('watchdog: a server that welcomes then goes silent is declared dead after interval + timeout, and the client reconnects', async () => {
    let sessions = 0;
    const fake = await FakeServer.start(
      kind,
      (conn, m) => {
        if (m.type === MessageType.Hello) welcome(conn, m, 100, 300, `s${++sessions}`);
      },
      teardown,
    );
    const client = newClient(fake.url, { id: 'watcher', reconnect: { initialMs: 10, maxMs: 20 } });
    await client.connect();
    expect(client.sessionId).toBe('s1');
    const states: string[] = [];
    client.status$.subscribe((s) => states.push(label(s)));
    const died = firstMatch(client.changes$, (c) => c.to === 'dead', 'the client to declare the server dead', 3000);

    const death = await died;
    const welcomedAt = fake.connections[0]!.sentAt[0]!;
    const detectionMs = death.at - welcomedAt;
    expect(death.cause).toBe('heartbeat-timeout');
    // Silence counts from the welcome; the verdict is never early, and late only by a tick
    // plus what a loaded box delays this process's timers.
    expect(death.silenceMs).toBeGreaterThanOrEqual(100 + 300);
    expect(detectionMs).toBeGreaterThanOrEqual(100 + 300);
    expect(detectionMs).toBeLessThanOrEqual(100 + 300 + 1000);
    // It told the silent server why, best effort.
    await until(() => fake.connections[0]!.closedAt !== null, 'the dead connection destroyed');
    expect(fake.connections[0]!.received).toEqual([
      { type: MessageType.Hello, version: PROTOCOL_VERSION, clientId: 'watcher', options: {} },
      { type: MessageType.Close, code: CloseCode.HeartbeatTimeout, reason: 'heartbeat-timeout' },
    ]);

    await until(() => client.reconnects === 1 && client.status.state === 'alive', 'the client reconnected', 3000);
    expect(client.sessionId).toBe('s2');
    expect(fake.connections[1]!.received[0]).toMatchObject({ type: MessageType.Hello, clientId: 'watcher' });
    expect(states.slice(0, 5)).toEqual(['alive', 'suspect:heartbeat-timeout', 'dead:heartbeat-timeout', 'connecting', 'alive']);
  });

  test('pings keep the client alive; it answers each with an exact echo and learns RTT and clock offset', async () => {
    let pinger: NodeJS.Timeout | null = null;
    teardown.add(() => pinger && clearInterval(pinger));
    const skewMs = 1000;
    const fake = await FakeServer.start(
      kind,
      (conn, m) => {
        if (m.type !== MessageType.Hello) return;
        welcome(conn, m, 100, 300, 'pinged');
        let seq = 0;
        pinger = setInterval(() => {
          seq++;
          // A server whose clock runs 1 s ahead, reporting an SRTT of 12.5 ms.
          conn.send({ type: MessageType.Ping, seq, ts: monotonicNow() + skewMs, ...(seq > 1 ? { rtt: 12.5 } : {}) });
        }, 100);
      },
      teardown,
    );
    const client = newClient(fake.url, { id: 'pinged' });
    const changes: StateChange[] = [];
    client.changes$.subscribe((c) => changes.push(c));
    await client.connect();
    const conn = fake.connections[0]!;
    // Eight pings span 800 ms: twice the 400 ms the watchdog allows for silence.
    await until(() => conn.received.filter((m) => m.type === MessageType.Pong).length >= 8, 'eight pongs', 5000);

    expect(changes.map((c) => c.to)).toEqual(['alive']);
    const pings = conn.sent.filter((m) => m.type === MessageType.Ping);
    const pongs = conn.received.filter((m) => m.type === MessageType.Pong);
    // One pong per ping, in order, echoing seq and ts unchanged; `time` is the client's clock.
    expect(pongs.map((p) => [p.seq, p.echoTs])).toEqual(pings.slice(0, pongs.length).map((p) => [p.seq, p.ts]));
    for (const p of pongs) expect(Math.abs(p.time - (p.echoTs - skewMs))).toBeLessThan(50);
    expect(client.rttMs).toBe(12.5);
    // offset = ts + rtt/2 − now, with ts 1 s ahead and a loopback transit of well under 50 ms.
    expect(client.clockOffsetMs).toBeLessThanOrEqual(skewMs + 12.5 / 2);
    expect(client.clockOffsetMs).toBeGreaterThan(skewMs + 12.5 / 2 - 50);
  });

  test.each<[string, (conn: FakeConnection, hello: HelloMessage) => void, number, string]>([
    [
      'a welcome in another protocol version',
      (conn, hello) => conn.send({ type: MessageType.Welcome, version: 99, sessionId: 'x', peerId: hello.clientId, interval: 100, timeout: 300, serverTime: 0, options: {} }),
      CloseCode.VersionMismatch,
      `server speaks protocol 99, we speak ${PROTOCOL_VERSION}`,
    ],
    ['close 4003 in answer to hello', (conn) => conn.send({ type: MessageType.Close, code: CloseCode.Unauthorized, reason: 'bad token' }), CloseCode.Unauthorized, 'bad token'],
    ['close 4004 in answer to hello', (conn) => conn.send({ type: MessageType.Close, code: CloseCode.Replaced, reason: 'taken' }), CloseCode.Replaced, 'taken'],
  ])('refused with %s: connect() rejects, and the client stops for good', async (_name, answer, code, reason) => {
    const fake = await FakeServer.start(
      kind,
      (conn, m) => {
        if (m.type === MessageType.Hello) answer(conn, m);
      },
      teardown,
    );
    const client = newClient(fake.url, { id: 'refused', reconnect: { initialMs: 1, maxMs: 1 } });
    let completed = false;
    client.status$.subscribe({ complete: () => (completed = true) });

    const error = await client.connect().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(VigilError);
    expect((error as VigilError).code).toBe(ErrorCode.Rejected);
    expect((error as VigilError).message).toBe(`server refused the session (${code}): ${reason}`);
    expect(client.status).toMatchObject({ state: 'closed', cause: 'rejected' });
    expect(completed).toBe(true);
    expect(client.send({})).toBe(false);
    expect(fake.connections).toHaveLength(1);
  });

  test('handshake deadline: a server that never answers hello is left with close 4000 after handshakeTimeoutMs, not before', async () => {
    const fake = await FakeServer.start(kind, () => {}, teardown);
    const client = newClient(fake.url, { id: 'impatient', handshakeTimeoutMs: 300, reconnect: { initialMs: 10, maxMs: 20 } });
    const ended = firstMatch(client.changes$, (c) => c.to === 'dead', 'the handshake to time out', 3000);
    const before = monotonicNow();
    void client.connect().catch(() => {});

    const change = await ended;
    expect(change).toMatchObject({ from: 'connecting', to: 'dead', cause: 'handshake-timeout' });
    expect(change.at - before).toBeGreaterThanOrEqual(300);
    expect(change.at - before).toBeLessThan(300 + 250);
    await until(() => fake.connections[0]!.closedAt !== null, 'the first connection closed');
    expect(fake.connections[0]!.received).toEqual([
      { type: MessageType.Hello, version: PROTOCOL_VERSION, clientId: 'impatient', options: {} },
      { type: MessageType.Close, code: CloseCode.HandshakeTimeout, reason: 'handshake-timeout' },
    ]);
    await until(() => fake.connections.length === 2, 'a second attempt');
  });

  test('goaway: the client waits reconnectDelay after the close before reconnecting', async () => {
    let sessions = 0;
    const fake = await FakeServer.start(
      kind,
      (conn, m) => {
        if (m.type !== MessageType.Hello) return;
        welcome(conn, m, 100, 300, `g${++sessions}`);
        if (sessions === 1) {
          conn.send({ type: MessageType.GoAway, code: CloseCode.GoingAway, reconnectDelay: 300, reason: 'draining' });
          conn.send({ type: MessageType.Close, code: CloseCode.GoingAway, reason: 'draining' });
        }
      },
      teardown,
    );
    const client = newClient(fake.url, { id: 'drained', reconnect: { initialMs: 1, maxMs: 1 } });
    await client.connect();
    await until(() => client.reconnects === 1 && client.status.state === 'alive', 'the client back after the goaway', 3000);
    expect(client.sessionId).toBe('g2');
    const closeSent = fake.connections[0]!.sentAt[2]!;
    expect(fake.connections[1]!.acceptedAt - closeSent).toBeGreaterThanOrEqual(300);
  });
});

describe('VigilClient configuration', () => {
  test.each(['http://127.0.0.1:9000', 'not a url', 'tcp://127.0.0.1', 'udp://127.0.0.1:9000'])('%s is refused with ERR_VIGIL_INVALID_URL', (url) => {
    let error: unknown;
    try {
      new VigilClient(url);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(VigilError);
    expect((error as VigilError).code).toBe(ErrorCode.InvalidUrl);
  });

  test.each([0, -5, 1.5])('intervalMs %p is a ConfigError naming intervalMs', (intervalMs) => {
    let error: unknown;
    try {
      new VigilClient('tcp://127.0.0.1:9000', { intervalMs });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('intervalMs');
  });

  test('send() before connecting returns false; close() before connecting resolves', async () => {
    const client = new VigilClient('tcp://127.0.0.1:9');
    expect(client.send({ hi: 1 })).toBe(false);
    await client.close();
    expect(client.status).toMatchObject({ state: 'closed', cause: 'local-close' });
    await expect(client.connect()).rejects.toMatchObject({ code: ErrorCode.Closed });
  });
});
