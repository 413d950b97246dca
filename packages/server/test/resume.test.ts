/**
 * Session resume over real loopback sockets: a cut transport leaves the same `Peer`
 * detached, then attached again on the client's return, with what either side sent
 * meanwhile delivered once and in order; past the window or the replay bound the session
 * ends and both sides are told (welcome `resumed: false`, `sessionLost$`, close 4007 for a
 * contradictory request); orderly ends and non-acknowledging clients are never held.
 */
import { VigilClient, nodeTransportFactory, type SessionLost, type TransportFactory } from '@vigil/client';
import type { SessionChange, Transport } from '@vigil/core';
import { CloseCode, ErrorCode, MessageType, PROTOCOL_VERSION, type Message, type WelcomeMessage } from '@vigil/protocol';
import { VigilServer, type Peer, type VigilServerOptions } from '@vigil/server';
import { RawTcpPeer, loopbackHooks, until } from './support/loopback.js';

type Kind = 'tcp' | 'ws';
const HEARTBEAT = { intervalMs: 100, timeoutMs: 400, handshakeTimeoutMs: 2000 } as const;

const { teardown } = loopbackHooks();

/** A transport factory the test can hold shut, so the client stays away as long as it likes. */
class Gate {
  readonly transports: Transport[] = [];
  private shut: { promise: Promise<void>; open: () => void } | null = null;
  readonly factory: TransportFactory = async (url, options) => {
    while (this.shut !== null) await this.shut.promise;
    const transport = await nodeTransportFactory(url, options);
    this.transports.push(transport);
    return transport;
  };

  close(): void {
    let open!: () => void;
    const promise = new Promise<void>((r) => (open = r));
    this.shut = { promise, open };
  }

  open(): void {
    const shut = this.shut;
    this.shut = null;
    shut?.open();
  }

  get current(): Transport {
    return this.transports.at(-1)!;
  }
}

async function startServer<T>(kind: Kind, options: Partial<VigilServerOptions> = {}): Promise<{ server: VigilServer<T, T>; port: number; url: string }> {
  const server = new VigilServer<T, T>({ [kind]: { port: 0 }, heartbeat: HEARTBEAT, resume: { windowMs: 5000 }, ...options });
  teardown.add(() => server.close());
  const port = (await server.listen())[kind]!;
  return { server, port, url: `${kind}://127.0.0.1:${port}` };
}

function startClient<T>(url: string, gate: Gate, id: string, options: { resume?: { maxMessages?: number } } = {}): VigilClient<T, T> {
  const client = new VigilClient<T, T>(url, { id, reconnect: { initialMs: 5, maxMs: 10 }, transportFactory: gate.factory, ...options });
  teardown.add(() => {
    gate.open();
    return client.close();
  });
  return client;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function label(c: SessionChange): string {
  return `${c.from}->${c.to}${c.cause === null ? '' : `:${c.cause}`}`;
}

describe.each<Kind>(['tcp', 'ws'])('resume over %s', (kind) => {
  test('a cut transport: the same Peer goes detached then attached again, and what either side sent meanwhile arrives once, in order', async () => {
    const { server, url } = await startServer<number>(kind);
    const gate = new Gate();
    const client = startClient<number>(url, gate, 'resumer');
    const atServer: number[] = [];
    const atClient: number[] = [];
    const peers: Peer<number>[] = [];
    const changes: string[] = [];
    server.connections$.subscribe((p) => peers.push(p));
    server.messages$.subscribe(({ message }) => atServer.push(message));
    server.sessionChanges$.subscribe((c) => changes.push(label(c)));
    client.messages$.subscribe((m) => atClient.push(m));
    await client.connect();
    const peer = server.peers.get('resumer')!;
    const sessionId = client.sessionId;
    expect(peer.sessionId).toBe(sessionId);

    for (const n of range(1, 20)) {
      expect(peer.send(n)).toBe(true);
      expect(client.send(n)).toBe(true);
    }
    await until(() => atServer.length === 20 && atClient.length === 20, 'the first 20 each way');
    // Acks flow while connected: nothing stays buffered for long.
    await until(() => peer.backlog === 0 && client.backlog === 0, 'both replay buffers emptied by acks');

    gate.close();
    gate.current.destroy('reset');
    await until(() => peer.sessionState === 'detached', 'the session detached');
    expect(server.peers.get('resumer')).toBe(peer);
    expect(peer.info(server.engine.now())).toMatchObject({ session: 'detached', state: 'dead', resumes: 0 });
    for (const n of range(21, 40)) {
      expect(peer.send(n)).toBe(true);
      expect(client.send(n)).toBe(true);
    }
    expect(peer.backlog).toBe(20);
    expect(client.backlog).toBe(20);

    gate.open();
    await until(() => client.resumes === 1, 'the client resumed');
    await until(() => atServer.length >= 40 && atClient.length >= 40, 'all 40 each way');
    await new Promise((r) => setTimeout(r, 50));
    expect(atServer).toEqual(range(1, 40));
    expect(atClient).toEqual(range(1, 40));
    expect(peers).toEqual([peer]);
    expect(client.sessionId).toBe(sessionId);
    expect(peer.resumes).toBe(1);
    expect(peer.sessionState).toBe('attached');
    expect(changes).toEqual([expect.stringMatching(/^attached->detached:(reset|closed-by-peer)$/), 'detached->attached']);
    expect(server.counters.resumes.get('resumed')).toBe(1);
    // After the resume, new messages still flow in the same numbering.
    peer.send(41);
    client.send(41);
    await until(() => atServer.length === 41 && atClient.length === 41, 'message 41 each way');
  });
});

describe('resume refused, explicitly', () => {
  test('past the resume window the session ends (resume-expired); the client gets a new session and sessionLost$ with what the server never acknowledged', async () => {
    const { server, url } = await startServer<string>('tcp', { resume: { windowMs: 300 } });
    const gate = new Gate();
    const client = startClient<string>(url, gate, 'late');
    const lost: SessionLost[] = [];
    client.sessionLost$.subscribe((l) => lost.push(l));
    const changes: string[] = [];
    server.sessionChanges$.subscribe((c) => changes.push(label(c)));
    const peers: Peer<string>[] = [];
    server.connections$.subscribe((p) => peers.push(p));
    await client.connect();
    const first = client.sessionId!;

    gate.close();
    gate.current.destroy('reset');
    await until(() => peers[0]!.sessionState === 'detached', 'the session detached');
    expect(client.send('q1')).toBe(true);
    expect(client.send('q2')).toBe(true);
    await until(() => peers[0]!.sessionState === 'ended', 'the window to pass', 3000);
    expect(changes).toEqual([expect.stringMatching(/^attached->detached:/), 'detached->ended:resume-expired']);
    expect(server.peers.has('late')).toBe(false);

    gate.open();
    await until(() => lost.length === 1 && client.status.state === 'alive', 'the client told its session was lost');
    expect(lost[0]!.sessionId).toBe(first);
    expect(lost[0]!.unacknowledged).toEqual(['q1', 'q2']);
    expect(lost[0]!.complete).toBe(true);
    expect(lost[0]!.error.code).toBe(ErrorCode.ResumeRejected);
    expect(client.lastError).toMatchObject({ code: ErrorCode.ResumeRejected });
    expect(client.sessionId).not.toBe(first);
    expect(client.resumes).toBe(0);
    // A new Peer for the new session, and it works.
    expect(peers).toHaveLength(2);
    expect(peers[1]!.sessionId).toBe(client.sessionId);
    expect(server.counters.resumes.get('unknown-session')).toBe(1);
    expect(server.counters.sessionsLost.get('resume-expired')).toBe(1);
    const got: string[] = [];
    server.messages$.subscribe(({ message }) => got.push(message));
    client.send('fresh');
    await until(() => got.length === 1, 'a message in the new session');
    expect(got).toEqual(['fresh']);
  });

  test('past the replay bound while detached, the session ends (resume-overflow) and send says false; the client is told when it returns', async () => {
    const { server, url } = await startServer<number>('tcp', { resume: { windowMs: 5000, maxMessages: 10 } });
    const gate = new Gate();
    const client = startClient<number>(url, gate, 'flooded');
    const lost: SessionLost[] = [];
    client.sessionLost$.subscribe((l) => lost.push(l));
    await client.connect();
    const peer = server.peers.get('flooded')!;
    gate.close();
    gate.current.destroy('reset');
    await until(() => peer.sessionState === 'detached', 'the session detached');
    for (const n of range(1, 10)) expect(peer.send(n)).toBe(true);
    expect(peer.send(11)).toBe(false);
    expect(peer.sessionState).toBe('ended');
    expect(server.peers.has('flooded')).toBe(false);
    expect(server.counters.sessionsLost.get('resume-overflow')).toBe(1);
    gate.open();
    await until(() => lost.length === 1, 'the client told');
    expect(server.peers.get('flooded')?.sessionId).toBe(client.sessionId);
  });

  test('the client queue while reconnecting is bounded: send() is false past it, and what was queued arrives after the resume', async () => {
    const { server, url } = await startServer<number>('tcp');
    const gate = new Gate();
    const client = startClient<number>(url, gate, 'queuer', { resume: { maxMessages: 5 } });
    const got: number[] = [];
    server.messages$.subscribe(({ message }) => got.push(message));
    await client.connect();
    gate.close();
    gate.current.destroy('reset');
    await until(() => client.status.state === 'connecting', 'the client reconnecting');
    expect(range(1, 7).map((n) => client.send(n))).toEqual([true, true, true, true, true, false, false]);
    gate.open();
    await until(() => client.resumes === 1 && got.length === 5, 'the queued messages delivered');
    expect(got).toEqual([1, 2, 3, 4, 5]);
  });

  test('a hello resuming an unknown session gets a new session, welcome.options.resumed false; resumable welcomes advertise the window and ack', async () => {
    const { port } = await startServer('tcp', { resume: { windowMs: 1234 }, minPingIntervalMs: 500 });
    const raw = await RawTcpPeer.connect(port);
    teardown.add(() => raw.destroy());
    raw.send({ type: MessageType.Hello, version: PROTOCOL_VERSION, clientId: 'ghost', options: { resume: { session: 'no-such-session', ack: 3 } } });
    await until(() => raw.messages().some((m) => m.type === MessageType.Welcome), 'the welcome');
    const welcome = raw.messages().find((m): m is WelcomeMessage => m.type === MessageType.Welcome)!;
    expect(welcome.options).toEqual({ resumed: false, minPingInterval: 500, resumeWindow: 1234, ack: 0 });
    expect(welcome.sessionId).not.toBe('no-such-session');
  });

  test('a resume acknowledging data the server never sent is refused with close 4007', async () => {
    const { server, port } = await startServer('tcp');
    const first = await RawTcpPeer.connect(port);
    teardown.add(() => first.destroy());
    first.send({ type: MessageType.Hello, version: PROTOCOL_VERSION, clientId: 'liar', options: {} });
    await until(() => first.messages().some((m) => m.type === MessageType.Welcome), 'the welcome');
    const sessionId = (first.messages().find((m) => m.type === MessageType.Welcome) as WelcomeMessage).sessionId;
    first.destroy();
    await until(() => server.peers.get('liar')?.sessionState === 'detached', 'the session detached');

    const second = await RawTcpPeer.connect(port);
    teardown.add(() => second.destroy());
    second.send({ type: MessageType.Hello, version: PROTOCOL_VERSION, clientId: 'liar', options: { resume: { session: sessionId, ack: 5 } } });
    await second.closed;
    expect(second.messages()).toEqual<Message[]>([{ type: MessageType.Close, code: CloseCode.ResumeRejected, reason: 'resume ack 5 is ahead of the last data seq sent (0)' }]);
    expect(server.counters.refusedBy.get('resume-rejected')).toBe(1);
    // The session itself is untouched and still held.
    expect(server.peers.get('liar')?.sessionState).toBe('detached');
  });

  test('a client that never acknowledges passes the bound: its session stops being resumable, the buffer is freed, and a cut ends it', async () => {
    const { server, port } = await startServer('tcp', { resume: { windowMs: 5000, maxMessages: 50 } });
    const raw = await RawTcpPeer.connect(port);
    teardown.add(() => raw.destroy());
    raw.send({ type: MessageType.Hello, version: PROTOCOL_VERSION, clientId: 'mute', options: {} });
    await until(() => server.peers.has('mute'), 'the handshake');
    const peer = server.peers.get('mute')!;
    for (let i = 0; i < 49; i++) peer.send(i);
    expect(peer.resumable).toBe(true);
    expect(peer.backlog).toBe(49);
    for (let i = 0; i < 200; i++) expect(peer.send(i)).toBe(true);
    expect(peer.resumable).toBe(false);
    expect(peer.backlog).toBe(0);
    expect(server.counters.replayOverflows).toBe(1);
    const changes: string[] = [];
    peer.sessionChanges$.subscribe((c) => changes.push(label(c)));
    raw.destroy();
    await until(() => peer.sessionState === 'ended', 'the session ended');
    expect(changes).toEqual([expect.stringMatching(/^attached->ended:(closed-by-peer|reset)$/)]);
  });

  test('orderly ends are final: a client close() and a server peer.close() end the session at once', async () => {
    const { server, url } = await startServer('tcp');
    const gate = new Gate();
    const a = startClient(url, gate, 'leaver');
    await a.connect();
    const peerA = server.peers.get('leaver')!;
    await a.close();
    await until(() => peerA.sessionState === 'ended', 'the session ended');
    expect(server.peers.has('leaver')).toBe(false);

    const b = startClient(url, gate, 'kicked');
    await b.connect();
    const peerB = server.peers.get('kicked')!;
    peerB.close(CloseCode.Normal, 'bye');
    expect(peerB.sessionState).toBe('ended');
    expect(server.peers.has('kicked')).toBe(false);
  });
});

describe('without resume on the server', () => {
  test('nothing changes: no resume offered, no acks, a reconnect is a new session and send() is false while disconnected', async () => {
    const { server, url, port } = await startServer<number>('tcp', { resume: false });
    const raw = await RawTcpPeer.connect(port);
    teardown.add(() => raw.destroy());
    raw.send({ type: MessageType.Hello, version: PROTOCOL_VERSION, clientId: 'plain-raw', options: {} });
    await until(() => raw.messages().some((m) => m.type === MessageType.Welcome), 'the welcome');
    expect((raw.messages().find((m) => m.type === MessageType.Welcome) as WelcomeMessage).options).toEqual({ minPingInterval: 1000 });

    const gate = new Gate();
    const client = startClient<number>(url, gate, 'plain');
    await client.connect();
    const first = client.sessionId;
    const peer = server.peers.get('plain')!;
    for (let i = 0; i < 100; i++) peer.send(i);
    expect(peer.backlog).toBe(0);
    gate.close();
    gate.current.destroy('reset');
    await until(() => client.status.state === 'connecting', 'the client reconnecting');
    expect(client.send(1)).toBe(false);
    await until(() => peer.sessionState === 'ended', 'the old session ended');
    gate.open();
    await until(() => client.reconnects === 1 && client.status.state === 'alive', 'a new session');
    expect(client.sessionId).not.toBe(first);
    expect(client.resumes).toBe(0);
  });
});
