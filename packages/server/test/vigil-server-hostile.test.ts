/**
 * Hostile and broken peers on the server's ports: garbage bytes, an oversize TCP
 * length header, WebSocket text and garbage frames, closes the WebSocket cannot
 * carry. Each such connection is closed with the code the protocol names (§11), while
 * a well-behaved client on the same server keeps exchanging messages, and nothing
 * throws out of the server.
 */
import { VigilClient } from '@vigil/client';
import { type StateChange } from '@vigil/core';
import { CloseCode, MessageType, encodeFrame, encodeMessage, type Message } from '@vigil/protocol';
import { VigilServer } from '@vigil/server';
import { RawTcpPeer, RawWsPeer, loopbackHooks, firstMatch, garbage, until } from './support/loopback.js';

type Kind = 'tcp' | 'ws';
interface Counter {
  readonly n: number;
}

const HEARTBEAT = { intervalMs: 100, timeoutMs: 400, handshakeTimeoutMs: 2000 } as const;
const MAX_FRAME_BYTES = 64 * 1024;

const { teardown, unhandled } = loopbackHooks();

/** A well-behaved client echoing a counter with the server every few ms for the whole test. */
class Steady {
  readonly states: string[] = [];
  echoes = 0;
  private next: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    readonly client: VigilClient<Counter, Counter>,
    private readonly server: VigilServer<Counter, Counter>,
  ) {
    server.messages$.subscribe(({ peer, message }) => {
      if (peer.id === 'steady') peer.send(message);
    });
    client.status$.subscribe((s) => this.states.push(s.cause === null ? s.state : `${s.state}:${s.cause}`));
    client.messages$.subscribe((m) => {
      this.echoes++;
      if (!this.stopped) this.next = setTimeout(() => client.send({ n: m.n + 1 }), 5);
    });
    client.send({ n: 1 });
  }

  stop(): void {
    this.stopped = true;
    if (this.next) clearTimeout(this.next);
  }

  /** The steady client never left `alive` and is still exchanging messages. */
  async expectUndisturbed(): Promise<void> {
    const before = this.echoes;
    await until(() => this.echoes >= before + 3, 'the steady client to keep exchanging messages');
    expect(this.states).toEqual(['alive']);
    expect(this.server.peers.get('steady')?.state).toBe('alive');
  }
}

async function setUp(kind: Kind): Promise<{ server: VigilServer<Counter, Counter>; port: number; steady: Steady; changes: StateChange[] }> {
  const server = new VigilServer<Counter, Counter>({ [kind]: { port: 0 }, heartbeat: HEARTBEAT, maxFrameBytes: MAX_FRAME_BYTES });
  teardown.add(() => server.close());
  const changes: StateChange[] = [];
  server.changes$.subscribe((c) => changes.push(c));
  const port = (await server.listen())[kind]!;
  const client = new VigilClient<Counter, Counter>(`${kind}://127.0.0.1:${port}`, { id: 'steady' });
  teardown.add(() => client.close());
  await client.connect();
  const steady = new Steady(client, server);
  teardown.add(() => steady.stop());
  await until(() => steady.echoes >= 2, 'the steady exchange to run');
  return { server, port, steady, changes };
}

function lengthHeader(length: number): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(length);
  return header;
}

/** The reasons the codec gives for payloads that are not a valid first message. */
const GARBAGE_REASON = /^(malformed message: .+|unknown message type .+|message type \d+ before the handshake completed)$/;

describe('hostile bytes on the TCP port', () => {
  test('a 2 GiB length header gets close 1009 and the connection is destroyed at once', async () => {
    const { server, port, steady, changes } = await setUp('tcp');
    const raw = await RawTcpPeer.connect(port);
    teardown.add(() => raw.destroy());
    const sentAt = performance.timeOrigin + performance.now();
    raw.write(lengthHeader(2 ** 31));
    const end = await raw.closed;

    expect(raw.messages()).toEqual([
      { type: MessageType.Close, code: CloseCode.FrameTooLarge, reason: `frame of ${2 ** 31} bytes exceeds the limit of ${MAX_FRAME_BYTES} bytes` },
    ]);
    // Destroyed on the spot, not left to the handshake deadline.
    expect(end.at - sentAt).toBeLessThan(300);
    expect(server.counters.ended.get('frame-too-large')).toBe(1);
    expect(changes.filter((c) => c.peerId !== 'steady').map((c) => [c.from, c.to, c.cause])).toEqual([['connecting', 'dead', 'frame-too-large']]);
    await steady.expectUndisturbed();
    expect(unhandled).toEqual([]);
  });

  test('frames of random bytes (valid length, garbage payload) each get close 1002', async () => {
    const { server, port, steady } = await setUp('tcp');
    const seeds = Array.from({ length: 16 }, (_, i) => 1000 + i);
    const peers = await Promise.all(seeds.map(() => RawTcpPeer.connect(port)));
    peers.forEach((p) => teardown.add(() => p.destroy()));
    peers.forEach((p, i) => p.write(encodeFrame(garbage(seeds[i]!, 1 + ((seeds[i]! * 97) % 2048)))));
    await Promise.all(peers.map((p) => p.closed));

    for (const p of peers) {
      const got = p.messages();
      expect(got).toHaveLength(1);
      expect(got[0]).toMatchObject({ type: MessageType.Close, code: CloseCode.ProtocolError });
      expect((got[0] as Extract<Message, { type: 7 }>).reason).toMatch(GARBAGE_REASON);
    }
    expect(server.counters.ended.get('protocol-error')).toBe(16);
    await steady.expectUndisturbed();
    expect(unhandled).toEqual([]);
  });

  test('a stream of random bytes is closed with the code its first four bytes call for', async () => {
    const { port, steady } = await setUp('tcp');
    const seeds = Array.from({ length: 8 }, (_, i) => 7 + i * 7919);
    const streams = seeds.map((seed) => garbage(seed, 4096));
    const peers = await Promise.all(seeds.map(() => RawTcpPeer.connect(port)));
    peers.forEach((p) => teardown.add(() => p.destroy()));
    peers.forEach((p, i) => p.write(streams[i]!));
    await Promise.all(peers.map((p) => p.closed));

    peers.forEach((p, i) => {
      const declared = streams[i]!.readUInt32BE(0);
      const expected =
        declared > MAX_FRAME_BYTES ? CloseCode.FrameTooLarge : declared + 4 <= 4096 ? CloseCode.ProtocolError : CloseCode.HandshakeTimeout;
      expect(p.messages()).toMatchObject([{ type: MessageType.Close, code: expected }]);
    });
    await steady.expectUndisturbed();
    expect(unhandled).toEqual([]);
  });

  test('garbage after a completed handshake kills that peer with protocol-error', async () => {
    const { server, port, steady } = await setUp('tcp');
    const raw = await RawTcpPeer.connect(port);
    teardown.add(() => raw.destroy());
    raw.send({ type: MessageType.Hello, version: 1, clientId: 'rogue', options: {} });
    await until(() => raw.messages().some((m) => m.type === MessageType.Welcome), 'the welcome');
    const died = firstMatch(server.changes$, (c) => c.peerId === 'rogue' && c.to === 'dead', 'rogue to die');
    raw.write(encodeFrame(garbage(42, 300)));
    await raw.closed;

    expect(await died).toMatchObject({ from: 'alive', cause: 'protocol-error' });
    expect(raw.messages().at(-1)).toMatchObject({ type: MessageType.Close, code: CloseCode.ProtocolError });
    expect(server.peers.has('rogue')).toBe(false);
    await steady.expectUndisturbed();
    expect(unhandled).toEqual([]);
  });

  test('an empty payload, data before hello and a second hello are protocol errors (1002)', async () => {
    const { port, steady } = await setUp('tcp');
    const cases: [string, Uint8Array, string][] = [
      ['empty payload', lengthHeader(0), 'malformed message: not valid msgpack'],
      ['data before hello', encodeFrame(encodeMessage({ type: MessageType.Data, seq: 1, body: 'hi' })), 'message type 5 before the handshake completed'],
      [
        'second hello',
        Buffer.concat([
          encodeFrame(encodeMessage({ type: MessageType.Hello, version: 1, clientId: 'twice', options: {} })),
          encodeFrame(encodeMessage({ type: MessageType.Hello, version: 1, clientId: 'twice', options: {} })),
        ]),
        'message type 1 after the handshake',
      ],
    ];
    for (const [, bytes, reason] of cases) {
      const raw = await RawTcpPeer.connect(port);
      teardown.add(() => raw.destroy());
      raw.write(bytes);
      await raw.closed;
      expect(raw.messages().at(-1)).toEqual({ type: MessageType.Close, code: CloseCode.ProtocolError, reason });
    }
    await steady.expectUndisturbed();
    expect(unhandled).toEqual([]);
  });
});

describe('hostile frames on the WebSocket port', () => {
  test('a text message gets close 1002 and the connection ends', async () => {
    const { server, port, steady } = await setUp('ws');
    const raw = await RawWsPeer.connect(port);
    teardown.add(() => raw.destroy());
    raw.ws.send('GET / HTTP/1.1');
    await raw.closed;
    expect(raw.received).toEqual([
      { type: MessageType.Close, code: CloseCode.ProtocolError, reason: 'text message on a Vigil WebSocket; only binary messages are allowed' },
    ]);
    expect(server.counters.ended.get('protocol-error')).toBe(1);
    await steady.expectUndisturbed();
    expect(unhandled).toEqual([]);
  });

  test('binary messages of random bytes each get close 1002', async () => {
    const { server, port, steady } = await setUp('ws');
    const seeds = Array.from({ length: 8 }, (_, i) => 500 + i);
    const peers = await Promise.all(seeds.map(() => RawWsPeer.connect(port)));
    peers.forEach((p) => teardown.add(() => p.destroy()));
    peers.forEach((p, i) => p.ws.send(garbage(seeds[i]!, 1 + ((seeds[i]! * 131) % 4096)), { binary: true }));
    await Promise.all(peers.map((p) => p.closed));
    for (const p of peers) {
      expect(p.received).toHaveLength(1);
      expect(p.received[0]).toMatchObject({ type: MessageType.Close, code: CloseCode.ProtocolError });
      expect((p.received[0] as Extract<Message, { type: 7 }>).reason).toMatch(GARBAGE_REASON);
    }
    expect(server.counters.ended.get('protocol-error')).toBe(8);
    await steady.expectUndisturbed();
    expect(unhandled).toEqual([]);
  });

  test('a message above maxFrameBytes is closed with 1009', async () => {
    const { server, port, steady } = await setUp('ws');
    const raw = await RawWsPeer.connect(port);
    teardown.add(() => raw.destroy());
    raw.ws.send(Buffer.alloc(MAX_FRAME_BYTES + 1), { binary: true });
    const end = await raw.closed;
    expect(end.code).toBe(CloseCode.FrameTooLarge);
    expect(server.counters.ended.get('frame-too-large')).toBe(1);
    await steady.expectUndisturbed();
    expect(unhandled).toEqual([]);
  });

  test.each<[string, number, string]>([
    ['a code no WebSocket close frame may carry', 1005, 'bye'],
    ['a code outside every range', 70_000, 'bye'],
    ['a reason longer than a close frame holds', CloseCode.Normal, 'ü'.repeat(200)],
  ])('a close with %s ends that connection in order without throwing', async (_name, code, reason) => {
    const { server, port, steady } = await setUp('ws');
    const raw = await RawWsPeer.connect(port);
    teardown.add(() => raw.destroy());
    raw.send({ type: MessageType.Hello, version: 1, clientId: 'closer', options: {} });
    await until(() => raw.received.some((m) => m.type === MessageType.Welcome), 'the welcome');
    const closed = firstMatch(server.changes$, (c) => c.peerId === 'closer' && (c.to === 'closed' || c.to === 'dead'), 'closer to end');
    raw.send({ type: MessageType.Close, code, reason });
    expect(await closed).toMatchObject({ from: 'alive', to: 'closed', cause: 'peer-close' });
    await raw.closed;
    await until(() => server.connectionCount === 1, 'only the steady connection left');
    await steady.expectUndisturbed();
    expect(unhandled).toEqual([]);
  });
});
