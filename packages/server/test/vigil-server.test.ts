/**
 * `VigilServer` with real `VigilClient`s over loopback TCP and WebSocket: handshake
 * and peer identity, application messages both ways, broadcast, RTT, the handshake
 * deadline, version refusal, reconnect after a restart on the same port, config
 * errors and the default bind address.
 */
import { randomBytes } from 'node:crypto';
import { VigilClient, type VigilClientOptions } from '@vigil/client';
import { monotonicNow, type StateChange } from '@vigil/core';
import { CloseCode, ConfigError, ErrorCode, MessageType, PROTOCOL_VERSION, type Message } from '@vigil/protocol';
import { VigilServer, type Peer, type PeerInfo, type VigilServerOptions } from '@vigil/server';
import { Teardown, firstMatch, kernelSockets, portOf, RawTcpPeer, RawWsPeer, until } from './support/loopback.js';

type Kind = 'tcp' | 'ws';
const HEARTBEAT = { intervalMs: 100, timeoutMs: 400 } as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Note {
  readonly text: string;
  readonly n: number;
  readonly blob?: Uint8Array;
  readonly tags?: readonly (string | number | boolean | null)[];
}

function urlFor(kind: Kind, port: number): string {
  return `${kind}://127.0.0.1:${port}`;
}

const teardown = new Teardown();
afterEach(() => teardown.run());

async function startServer(kind: Kind, options: Partial<VigilServerOptions> = {}): Promise<{ server: VigilServer<Note, Note>; port: number; url: string }> {
  const server = new VigilServer<Note, Note>({ [kind]: { port: 0 }, heartbeat: HEARTBEAT, ...options });
  teardown.add(() => server.close());
  const ports = await server.listen();
  const port = ports[kind]!;
  return { server, port, url: urlFor(kind, port) };
}

function newClient(url: string, options: VigilClientOptions = {}): VigilClient<Note, Note> {
  const client = new VigilClient<Note, Note>(url, options);
  teardown.add(() => client.close());
  return client;
}

function infoOf(server: VigilServer<Note, Note>, id: string): PeerInfo {
  const info = server.snapshot().find((p) => p.id === id);
  if (!info) throw new Error(`no peer ${id} in the snapshot`);
  return info;
}

describe.each<Kind>(['tcp', 'ws'])('VigilServer and VigilClient over %s', (kind) => {
  test('handshake: the server sees the peer by id, transport and loopback address; the client learns its session', async () => {
    const { server, port, url } = await startServer(kind);
    const joined = firstMatch(server.connections$, (p) => p.id === 'alpha', 'peer alpha');
    const client = newClient(url, { id: 'alpha' });
    await client.connect();
    const peer = await joined;

    expect(peer.id).toBe('alpha');
    expect(peer.transport).toBe(kind);
    expect(peer.state).toBe('alive');
    expect(peer.reconnects).toBe(0);
    expect(peer.remote).toMatch(/^127\.0\.0\.1:\d+$/);
    // The remote port is the client's end of an established loopback connection to us.
    const clientPort = portOf(peer.remote);
    expect(kernelSockets().filter((s) => s.localPort === clientPort && s.remotePort === port && s.state === 'ESTABLISHED')).toHaveLength(1);

    expect(client.peerId).toBe('alpha');
    expect(client.sessionId).toMatch(UUID);
    expect(client.sessionId).toBe(peer.sessionId);
    expect(client.status.state).toBe('alive');
    expect(client.reconnects).toBe(0);
    expect(server.peers.get('alpha')).toBe(peer);
    expect(server.connectionCount).toBe(1);
    expect(infoOf(server, 'alpha')).toMatchObject({
      id: 'alpha',
      sessionId: peer.sessionId,
      transport: kind,
      remote: peer.remote,
      state: 'alive',
      cause: null,
      intervalMs: HEARTBEAT.intervalMs,
      timeoutMs: HEARTBEAT.timeoutMs,
      reconnects: 0,
    });
  });

  test('a client without an id gets one assigned', async () => {
    const { server, url } = await startServer(kind);
    const client = newClient(url);
    await client.connect();
    expect(client.peerId).toBe('anon-1');
    expect([...server.peers.keys()]).toEqual(['anon-1']);
  });

  test('typed application messages travel both ways in order, binary bodies intact', async () => {
    const { server, url } = await startServer(kind);
    const joined = firstMatch(server.connections$, () => true, 'a peer');
    const client = newClient(url, { id: 'talker' });
    await client.connect();
    const peer: Peer<Note> = await joined;

    // A 256 KiB body spans many TCP reads and must be reassembled byte for byte.
    const big = new Uint8Array(randomBytes(256 * 1024));
    const toServer: Note[] = [];
    const senders = new Set<Peer<Note>>();
    server.messages$.subscribe(({ peer: from, message }) => {
      senders.add(from);
      toServer.push(message);
    });
    for (let n = 1; n <= 50; n++) expect(client.send({ text: `up ${n}`, n })).toBe(true);
    expect(client.send({ text: 'blob', n: 51, blob: big, tags: ['x', 2, false, null] })).toBe(true);
    await until(() => toServer.length === 51, '51 messages at the server');
    expect([...senders]).toEqual([peer]);
    expect(toServer.slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, i) => ({ text: `up ${i + 1}`, n: i + 1 })));
    const last = toServer[50]!;
    expect(last.blob).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(last.blob!).equals(Buffer.from(big))).toBe(true);
    expect(last.tags).toEqual(['x', 2, false, null]);

    const toClient: Note[] = [];
    client.messages$.subscribe((m) => toClient.push(m));
    const small = Uint8Array.of(0, 1, 127, 128, 255);
    expect(peer.send({ text: 'down', n: 1, blob: small })).toBe(true);
    expect(peer.send({ text: 'down', n: 2 })).toBe(true);
    await until(() => toClient.length === 2, '2 messages at the client');
    expect(toClient[0]!.text).toBe('down');
    expect([...toClient[0]!.blob!]).toEqual([0, 1, 127, 128, 255]);
    expect(toClient[1]).toEqual({ text: 'down', n: 2 });
  });

  test('broadcast reaches every live peer once', async () => {
    const { server, url } = await startServer(kind);
    const clients = ['b1', 'b2', 'b3'].map((id) => newClient(url, { id }));
    await Promise.all(clients.map((c) => c.connect()));
    const got = clients.map(() => [] as Note[]);
    clients.forEach((c, i) => c.messages$.subscribe((m) => got[i]!.push(m)));

    expect(server.broadcast({ text: 'to all', n: 7 })).toBe(3);
    await until(() => got.every((g) => g.length === 1), 'the broadcast at every client');
    expect(got).toEqual([[{ text: 'to all', n: 7 }], [{ text: 'to all', n: 7 }], [{ text: 'to all', n: 7 }]]);
  });

  test('RTT: after a few pings both sides know a small, finite round-trip time', async () => {
    const { server, url } = await startServer(kind);
    const client = newClient(url, { id: 'rtt' });
    await client.connect();
    await until(() => infoOf(server, 'rtt').rttSamples.length >= 3 && Number.isFinite(client.rttMs), 'three RTT samples', 3000);

    const info = infoOf(server, 'rtt');
    expect(info.rttMs).not.toBeNull();
    expect(info.rttMs!).toBeGreaterThanOrEqual(0);
    expect(info.rttMs!).toBeLessThan(100);
    expect(info.rttVarMs).not.toBeNull();
    for (const sample of info.rttSamples) {
      expect(sample).toBeGreaterThanOrEqual(0);
      expect(sample).toBeLessThan(100);
    }
    // Same process, same monotonic clock: the estimated offset is within half an RTT of 0.
    expect(Math.abs(info.clockOffsetMs!)).toBeLessThan(50);
    expect(client.rttMs).toBeGreaterThanOrEqual(0);
    expect(client.rttMs).toBeLessThan(100);
    expect(Math.abs(client.clockOffsetMs)).toBeLessThan(50);
  });

  test('handshake deadline: a connection that says nothing is closed with 4000 after handshakeTimeoutMs, not before', async () => {
    const { server, port } = await startServer(kind, { heartbeat: { ...HEARTBEAT, handshakeTimeoutMs: 300 } });
    const ended = firstMatch(server.changes$, (c) => c.to === 'dead', 'the silent connection to end');
    const before = monotonicNow();
    let closedAt: number;
    let got: Message[];
    if (kind === 'tcp') {
      const raw = await RawTcpPeer.connect(port);
      teardown.add(() => raw.destroy());
      closedAt = (await raw.closed).at;
      got = raw.messages();
    } else {
      const raw = await RawWsPeer.connect(port);
      teardown.add(() => raw.destroy());
      closedAt = (await raw.closed).at;
      got = raw.received;
    }
    const elapsed = closedAt - before;
    expect(got).toEqual([{ type: MessageType.Close, code: CloseCode.HandshakeTimeout, reason: 'handshake-timeout' }]);
    expect(elapsed).toBeGreaterThanOrEqual(300);
    expect(elapsed).toBeLessThan(300 + 250);
    expect(await ended).toMatchObject({ from: 'connecting', to: 'dead', cause: 'handshake-timeout' });
    expect(server.connectionCount).toBe(0);
    expect(server.peers.size).toBe(0);
  });

  test('version mismatch: a hello with version 99 is answered with close 4002 and the connection ends', async () => {
    const { server, port } = await startServer(kind);
    const hello: Message = { type: MessageType.Hello, version: 99, clientId: 'future', options: {} };
    let got: Message[];
    if (kind === 'tcp') {
      const raw = await RawTcpPeer.connect(port);
      teardown.add(() => raw.destroy());
      raw.send(hello);
      await raw.closed;
      got = raw.messages();
    } else {
      const raw = await RawWsPeer.connect(port);
      teardown.add(() => raw.destroy());
      raw.send(hello);
      await raw.closed;
      got = raw.received;
    }
    expect(got).toEqual([
      {
        type: MessageType.Close,
        code: CloseCode.VersionMismatch,
        reason: `protocol version 99 is not supported (server speaks ${PROTOCOL_VERSION})`,
      },
    ]);
    await until(() => server.connectionCount === 0, 'the refused connection to end');
    expect(server.peers.size).toBe(0);
    expect(server.counters.ended.get('rejected')).toBe(1);
  });

  test('a client reconnects by itself to a new server on the same port', async () => {
    const first = await startServer(kind);
    const client = newClient(first.url, { id: 'phoenix', reconnect: { initialMs: 20, maxMs: 100 } });
    await client.connect();
    const firstSession = client.sessionId;
    const states: string[] = [];
    client.status$.subscribe((s) => {
      const label = s.cause === null ? s.state : `${s.state}:${s.cause}`;
      // Each retry re-announces `connecting` with its attempt number; count states, not attempts.
      if (states.at(-1) !== label) states.push(label);
    });

    await first.server.close();
    await until(() => client.status.state === 'connecting', 'the client to notice the shutdown');
    const second = new VigilServer<Note, Note>({ [kind]: { port: first.port }, heartbeat: HEARTBEAT });
    teardown.add(() => second.close());
    expect(await second.listen()).toEqual({ [kind]: first.port });

    await until(() => client.status.state === 'alive' && second.peers.has('phoenix'), 'the client back on the new server', 5000);
    expect(client.reconnects).toBe(1);
    expect(client.sessionId).toMatch(UUID);
    expect(client.sessionId).not.toBe(firstSession);
    expect(client.sessionId).toBe(second.peers.get('phoenix')!.sessionId);
    expect(states).toEqual(['alive', 'closed:peer-close', 'connecting', 'alive']);
    // The new session works.
    const echoed = firstMatch(second.messages$, (m) => m.message.n === 1, 'a message on the new session');
    expect(client.send({ text: 'back', n: 1 })).toBe(true);
    expect((await echoed).peer.id).toBe('phoenix');
  });

  test('a peer the server terminates reconnects, and the server counts the session', async () => {
    const { server, url } = await startServer(kind);
    const client = newClient(url, { id: 'bouncer', reconnect: { initialMs: 20, maxMs: 100 } });
    await client.connect();
    const firstSession = client.sessionId;
    const ended = firstMatch(server.changes$, (c) => c.peerId === 'bouncer' && c.to === 'dead', 'the terminated session');
    server.peers.get('bouncer')!.terminate();
    expect(await ended).toMatchObject({ to: 'dead', cause: 'local-close' });
    await until(() => client.reconnects === 1 && client.status.state === 'alive', 'the client back');
    expect(client.sessionId).not.toBe(firstSession);
    expect(server.peers.get('bouncer')!.reconnects).toBe(1);
    expect(infoOf(server, 'bouncer').reconnects).toBe(1);
  });
});

describe('handshake deadline on the WebSocket port before the upgrade', () => {
  test.each<[string, string]>([
    ['sends nothing', ''],
    ['sends half an HTTP request', 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n'],
  ])('a TCP connection that %s is closed after handshakeTimeoutMs, not before; upgraded peers stay', async (_name, bytes) => {
    const { server, port, url } = await startServer('ws', { heartbeat: { ...HEARTBEAT, handshakeTimeoutMs: 300 } });
    const before = monotonicNow();
    const raw = await RawTcpPeer.connect(port);
    teardown.add(() => raw.destroy());
    if (bytes !== '') raw.write(Buffer.from(bytes));
    const client = newClient(url, { id: 'upgraded' });
    await client.connect();

    const elapsed = (await raw.closed).at - before;
    expect(elapsed).toBeGreaterThanOrEqual(300);
    expect(elapsed).toBeLessThan(300 + 250);
    expect(client.status.state).toBe('alive');
    expect(server.peers.get('upgraded')?.state).toBe('alive');
  });
});

describe('VigilServer configuration', () => {
  test('a timeout not above the interval is a ConfigError naming timeoutMs', () => {
    let error: unknown;
    try {
      new VigilServer({ tcp: { port: 0 }, heartbeat: { intervalMs: 1000, timeoutMs: 500 } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('timeoutMs');
    expect((error as ConfigError).code).toBe(ErrorCode.InvalidConfig);
  });

  test('a server with neither listener is a ConfigError', () => {
    expect(() => new VigilServer({})).toThrow(ConfigError);
  });

  test('binds 127.0.0.1 by default, on both listeners', async () => {
    const server = new VigilServer({ tcp: { port: 0 }, ws: { port: 0 } });
    teardown.add(() => server.close());
    const { tcp, ws } = await server.listen();
    for (const port of [tcp!, ws!]) {
      const listeners = kernelSockets().filter((s) => s.state === 'LISTEN' && s.localPort === port);
      expect(listeners.map((s) => s.localAddress)).toEqual(['127.0.0.1']);
    }
  });

  test('changes$ reports each state change of a peer that leaves in order', async () => {
    const { server, url } = await startServer('tcp');
    const changes: StateChange[] = [];
    server.changes$.subscribe((c) => changes.push(c));
    const client = newClient(url, { id: 'orderly' });
    await client.connect();
    await client.close();
    await until(() => changes.some((c) => c.to === 'closed'), 'the close at the server');
    expect(changes.map((c) => [c.peerId, c.from, c.to, c.cause])).toEqual([
      ['orderly', 'connecting', 'alive', null],
      ['orderly', 'alive', 'closed', 'peer-close'],
    ]);
  });
});

describe('orderly close by the server application', () => {
  async function handshakenRawWs(port: number, id: string): Promise<RawWsPeer> {
    const raw = await RawWsPeer.connect(port);
    teardown.add(() => raw.destroy());
    raw.send({ type: MessageType.Hello, version: PROTOCOL_VERSION, clientId: id, options: {} });
    await until(() => raw.received.some((m) => m.type === MessageType.Welcome), 'the welcome');
    return raw;
  }

  test.each<[string, number, string, number, string]>([
    ['an application code and a short reason', 4100, 'maintenance', 4100, 'maintenance'],
    // RFC 6455 §5.5: a close frame's reason is at most 123 bytes; 61 × 'ü' is 122 bytes.
    ['a reason too long for a close frame', CloseCode.Normal, 'ü'.repeat(100), CloseCode.Normal, 'ü'.repeat(61)],
    // RFC 6455 §7.4.1: 1005 must never be sent in a close frame; the frame says 1000 instead.
    ['a code no close frame may carry', 1005, 'odd', CloseCode.Normal, 'odd'],
  ])('peer.close() with %s: the Vigil close carries it, the WebSocket close frame what fits', async (_name, code, reason, frameCode, frameReason) => {
    const { server, port } = await startServer('ws');
    const raw = await handshakenRawWs(port, 'closing');
    const peer = server.peers.get('closing')!;
    expect(() => peer.close(code, reason)).not.toThrow();
    expect(peer.status).toMatchObject({ state: 'closed', cause: 'local-close' });
    const end = await raw.closed;
    expect(raw.received.at(-1)).toEqual({ type: MessageType.Close, code, reason });
    expect(end.code).toBe(frameCode);
    expect(end.reason).toBe(frameReason);
    await until(() => server.connectionCount === 0, 'the server side ended');
  });

  test('peer.close() over TCP sends the close message, then a FIN', async () => {
    const { server, port } = await startServer('tcp');
    const raw = await RawTcpPeer.connect(port);
    teardown.add(() => raw.destroy());
    raw.send({ type: MessageType.Hello, version: PROTOCOL_VERSION, clientId: 'closing', options: {} });
    await until(() => raw.messages().some((m) => m.type === MessageType.Welcome), 'the welcome');
    server.peers.get('closing')!.close(4100, 'ü'.repeat(100));
    const end = await raw.closed;
    expect(end.error).toBeUndefined();
    expect(raw.messages().at(-1)).toEqual({ type: MessageType.Close, code: 4100, reason: 'ü'.repeat(100) });
  });
});

describe('sessions and capacity', () => {
  test('a second connection with the same id replaces the first (4004), which stops for good', async () => {
    const { server, url } = await startServer('tcp');
    const first = newClient(url, { id: 'twin' });
    await first.connect();
    const firstSession = first.sessionId;
    const replaced = firstMatch(server.changes$, (c) => c.peerId === 'twin' && c.to === 'closed', 'the first session replaced');
    const second = newClient(url, { id: 'twin' });
    await second.connect();

    expect(await replaced).toMatchObject({ from: 'alive', cause: 'replaced' });
    await until(() => first.status.state === 'closed', 'the first client to stop');
    expect(first.status.cause).toBe('rejected');
    expect(first.lastError?.message).toBe('server refused the session (4004): replaced by a newer session');
    expect(server.peers.get('twin')!.sessionId).toBe(second.sessionId);
    expect(second.sessionId).not.toBe(firstSession);
    expect(server.peers.get('twin')!.reconnects).toBe(1);
    expect(server.snapshot().map((p) => [p.sessionId, p.state, p.cause])).toEqual([
      [second.sessionId, 'alive', null],
      [firstSession, 'closed', 'replaced'],
    ]);
  });

  test('beyond maxConnections a connection is refused with 4008 and a FIN', async () => {
    const { server, port, url } = await startServer('tcp', { maxConnections: 1 });
    const client = newClient(url, { id: 'only' });
    await client.connect();
    const raw = await RawTcpPeer.connect(port);
    teardown.add(() => raw.destroy());
    const end = await raw.closed;
    expect(end.error).toBeUndefined();
    expect(raw.messages()).toEqual([{ type: MessageType.Close, code: CloseCode.ServerFull, reason: 'server full' }]);
    expect(server.counters.refused).toBe(1);
    expect(server.connectionCount).toBe(1);
    expect(client.status.state).toBe('alive');
  });

  test('connect() called again shares the first handshake, and resolves at once when connected', async () => {
    const { server, url } = await startServer('tcp');
    const client = newClient(url, { id: 'twice' });
    const first = client.connect();
    const second = client.connect();
    expect(second).toBe(first);
    await first;
    const session = client.sessionId;
    await client.connect();
    expect(client.sessionId).toBe(session);
    expect(server.counters.accepted).toBe(1);
  });

  test('listening on a port another server holds fails with EADDRINUSE, and close() still resolves', async () => {
    const { port } = await startServer('tcp');
    const intruder = new VigilServer({ tcp: { port } });
    await expect(intruder.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await intruder.close();
  });
});
