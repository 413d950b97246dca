import { CloseCode, ErrorCode, MessageType, ProtocolError, encodeMessage, type HelloMessage, type Message, type WelcomeMessage } from '@vigil/protocol';
import { config as rxjsConfig } from 'rxjs';
import type { PeerTiming } from '../src/config.js';
import { Connection } from '../src/connection.js';
import { LivenessEngine } from '../src/liveness-engine.js';
import type { PeerStatus } from '../src/peer-state.js';
import { FakeTransport } from './fake-transport.js';
import { VirtualClock } from './virtual-time.js';

const timing: PeerTiming = { intervalMs: 1000, suspectAfterMs: 1500, timeoutMs: 3000, jitter: 0.1 };
const HANDSHAKE_MS = 5000;
const hello: HelloMessage = { type: MessageType.Hello, version: 1, clientId: 'c1', options: {} };

interface Options {
  /** Start liveness from the handshake handler (as a server does on hello). */
  startOnHandshake?: boolean;
  pinging?: boolean;
  refuse?: ProtocolError;
}

function setup(options: Options = {}) {
  const clock = new VirtualClock();
  // random 0: pings every 900 ms.
  const engine = new LivenessEngine({ scheduler: clock.scheduler, tickMs: 50, random: () => 0 });
  const transport = new FakeTransport();
  const handshakes: (HelloMessage | WelcomeMessage)[] = [];
  const data: [unknown, number][] = [];
  const ended: PeerStatus[] = [];
  const other: Message[] = [];
  const connection: Connection = new Connection(
    engine,
    transport,
    {
      handshake: (m) => {
        handshakes.push(m);
        if (options.refuse) throw options.refuse;
        if (options.startOnHandshake ?? true) connection.start(timing, options.pinging ?? false);
      },
      data: (body, seq) => data.push([body, seq]),
      goaway: (m) => other.push(m),
      status: (m) => other.push(m),
      ended: (s) => ended.push(s),
    },
    HANDSHAKE_MS,
    'peer-1',
  );
  return { clock, engine, transport, connection, handshakes, data, ended, other };
}

function handshaken(options: Options = {}) {
  const s = setup(options);
  s.transport.deliver(hello);
  return s;
}

describe('Connection handshake', () => {
  it('hands hello to the handshake handler, and start() makes the peer alive', () => {
    const s = setup({ startOnHandshake: false });
    expect(s.connection.monitor.state).toBe('connecting');
    s.clock.advance(120);
    s.transport.deliver(hello);
    expect(s.handshakes).toStrictEqual([hello]);
    expect(s.connection.monitor.state).toBe('connecting');
    s.connection.start(timing, true);
    expect(s.connection.monitor.status).toStrictEqual({ state: 'alive', cause: null, since: 120 });
    expect(s.connection.monitor.id).toBe('peer-1');
  });

  it('hands welcome to the handshake handler', () => {
    const s = setup();
    const welcome: WelcomeMessage = { type: MessageType.Welcome, version: 1, sessionId: 's', peerId: 'p', interval: 1000, timeout: 3000, serverTime: 9, options: {} };
    s.transport.deliver(welcome);
    expect(s.handshakes).toStrictEqual([welcome]);
    expect(s.connection.monitor.state).toBe('alive');
  });

  it('kills the connection with protocol-error and sends close 1002 on a message before the handshake', () => {
    const s = setup();
    s.clock.advance(70);
    s.transport.deliver({ type: MessageType.Ping, seq: 1, ts: 5 });
    expect(s.connection.monitor.status).toStrictEqual({ state: 'dead', cause: 'protocol-error', since: 70 });
    expect(s.transport.sentMessages).toStrictEqual([
      { type: MessageType.Close, code: 1002, reason: 'message type 3 before the handshake completed' },
    ]);
    expect(s.transport.destroyCalls).toStrictEqual(['protocol-error']);
    expect(s.connection.error).toBeInstanceOf(ProtocolError);
    expect(s.connection.error!.code).toBe(ErrorCode.UnexpectedMessage);
    expect(s.ended).toStrictEqual([{ state: 'dead', cause: 'protocol-error', since: 70 }]);
    expect(s.handshakes).toStrictEqual([]);
  });

  it('kills with rejected and the error close code when the handshake handler refuses', () => {
    const refuse = new ProtocolError(ErrorCode.Rejected, 'bad token', CloseCode.Unauthorized);
    const s = setup({ refuse });
    s.transport.deliver(hello);
    expect(s.connection.monitor.status.state).toBe('dead');
    expect(s.connection.monitor.status.cause).toBe('rejected');
    expect(s.connection.error).toBe(refuse);
    expect(s.transport.sentMessages).toStrictEqual([{ type: MessageType.Close, code: 4003, reason: 'bad token' }]);
    expect(s.transport.destroyCalls).toStrictEqual(['rejected']);
  });

  it('kills with protocol-error on undecodable bytes', () => {
    const s = setup();
    s.transport.deliverBytes(Uint8Array.of(0x93, 0x03));
    expect(s.connection.monitor.status.cause).toBe('protocol-error');
    expect(s.connection.error!.code).toBe(ErrorCode.MalformedMessage);
    expect(s.transport.sentMessages).toStrictEqual([{ type: MessageType.Close, code: 1002, reason: 'malformed message: not valid msgpack' }]);
  });

  it('kills with protocol-error on a second hello', () => {
    const s = handshaken();
    s.transport.deliver(hello);
    expect(s.connection.monitor.status.cause).toBe('protocol-error');
    expect(s.handshakes).toHaveLength(1);
    expect(s.transport.sentMessages).toStrictEqual([{ type: MessageType.Close, code: 1002, reason: 'message type 1 after the handshake' }]);
  });

  it('expires with handshake-timeout, sending close 4000 and destroying the transport', () => {
    const s = setup();
    s.clock.advance(HANDSHAKE_MS - 1);
    expect(s.transport.sent).toStrictEqual([]);
    s.clock.advance(1);
    expect(s.connection.monitor.status).toStrictEqual({ state: 'dead', cause: 'handshake-timeout', since: 5000 });
    expect(s.transport.sentMessages).toStrictEqual([{ type: MessageType.Close, code: 4000, reason: 'handshake-timeout' }]);
    expect(s.transport.destroyCalls).toStrictEqual(['handshake-timeout']);
    expect(s.ended).toHaveLength(1);
  });
});

describe('Connection heartbeats', () => {
  it('answers a ping with a pong echoing ts and carrying its own clock', () => {
    const s = handshaken();
    s.clock.advance(2000);
    s.transport.deliver({ type: MessageType.Ping, seq: 7, ts: 123_456.5 });
    expect(s.transport.sentMessages).toStrictEqual([{ type: MessageType.Pong, seq: 7, echoTs: 123_456.5, time: 2000 }]);
  });

  it('pings on schedule and feeds pongs to the RTT estimator, which later pings carry', () => {
    const s = handshaken({ pinging: true });
    s.clock.advanceTo(900);
    expect(s.transport.sentMessages).toStrictEqual([{ type: MessageType.Ping, seq: 1, ts: 900 }]);
    s.clock.advanceTo(1000);
    s.transport.deliver({ type: MessageType.Pong, seq: 1, echoTs: 900, time: 77_000 });
    expect(s.connection.monitor.rtt.last).toBe(100);
    expect(s.connection.monitor.rtt.srtt).toBe(100);
    // The peer's clock read 77000 at our 950 (the midpoint of the round trip).
    expect(s.connection.monitor.rtt.offset).toBe(76_050);
    s.clock.advanceTo(1800);
    expect(s.transport.sentMessages.slice(1)).toStrictEqual([{ type: MessageType.Ping, seq: 2, ts: 1800, rtt: 100 }]);
  });

  it('sends pings byte for byte as encodeMessage would, and reads a pong from its bytes as decodeMessage would', () => {
    const s = handshaken({ pinging: true });
    s.clock.advanceTo(900);
    expect(s.transport.sent.map((p) => [...p])).toStrictEqual([[...encodeMessage({ type: MessageType.Ping, seq: 1, ts: 900 })]]);
    // A pong with a nil ack and one with a float time, as other encoders may send them.
    s.clock.advanceTo(1000);
    s.transport.deliverBytes(Uint8Array.from([0x95, MessageType.Pong, 1, 0xcd, 0x03, 0x84, 0xcb, 0x40, 0xf2, 0xcc, 0x88, 0, 0, 0, 0, 0xc0]));
    expect(s.connection.monitor.rtt.last).toBe(100);
    expect(s.connection.monitor.rtt.offset).toBe(77_000.5 - 950);
    expect(s.connection.ended).toBe(false);
  });

  it('still rejects a malformed pong with the decoder\'s error (the fast path declines it)', () => {
    const s = handshaken({ pinging: true });
    s.clock.advanceTo(1000);
    // seq -1 (negative fixint): not a pong the fast path takes; decodeMessage says why.
    s.transport.deliverBytes(Uint8Array.from([0x94, MessageType.Pong, 0xff, 1, 2]));
    expect(s.connection.monitor.status.state).toBe('dead');
    expect(s.connection.error?.code).toBe(ErrorCode.MalformedMessage);
    expect(s.connection.error?.message).toBe('malformed message: seq must be a non-negative integer');
  });

  it('kills on heartbeat timeout: close 4001, transport destroyed', async () => {
    const s = handshaken({ pinging: true });
    s.clock.advanceTo(2999);
    expect(s.connection.monitor.state).toBe('suspect');
    expect(s.transport.destroyCalls).toStrictEqual([]);
    s.clock.advanceTo(3000);
    expect(s.connection.monitor.status).toStrictEqual({ state: 'dead', cause: 'heartbeat-timeout', since: 3000 });
    expect(s.transport.sentMessages).toStrictEqual([
      { type: MessageType.Ping, seq: 1, ts: 900 },
      { type: MessageType.Ping, seq: 2, ts: 1800 },
      { type: MessageType.Ping, seq: 3, ts: 2700 },
      { type: MessageType.Close, code: 4001, reason: 'heartbeat-timeout' },
    ]);
    expect(s.transport.destroyCalls).toStrictEqual(['heartbeat-timeout']);
    await s.transport.closed;
    expect(s.ended).toStrictEqual([{ state: 'dead', cause: 'heartbeat-timeout', since: 3000 }]);
    expect(s.clock.pending).toBe(0);
  });

  it('counts any inbound frame as proof of life', () => {
    const s = handshaken();
    s.clock.advanceTo(2900);
    s.transport.deliver({ type: MessageType.Ack, ack: 0 });
    s.clock.advanceTo(5899);
    expect(s.connection.ended).toBe(false);
    s.clock.advanceTo(5900);
    expect(s.connection.monitor.status).toStrictEqual({ state: 'dead', cause: 'heartbeat-timeout', since: 5900 });
  });
});

describe('Connection data', () => {
  it('delivers data in order and drops duplicates', () => {
    const s = handshaken();
    const seqs = [1, 2, 2, 1, 3, 3, 4];
    for (const seq of seqs) s.transport.deliver({ type: MessageType.Data, seq, body: `m${seq}` });
    expect(s.data).toStrictEqual([
      ['m1', 1],
      ['m2', 2],
      ['m3', 3],
      ['m4', 4],
    ]);
    expect(s.connection.receivedSeq).toBe(4);
    expect(s.connection.ended).toBe(false);
  });

  it('kills with protocol-error on a gap', () => {
    const s = handshaken();
    s.transport.deliver({ type: MessageType.Data, seq: 1, body: 'a' });
    s.transport.deliver({ type: MessageType.Data, seq: 3, body: 'c' });
    expect(s.data).toStrictEqual([['a', 1]]);
    expect(s.connection.monitor.status.cause).toBe('protocol-error');
    expect(s.transport.sentMessages).toStrictEqual([{ type: MessageType.Close, code: 1002, reason: 'data seq 3 skips ahead of 2' }]);
    expect(s.transport.destroyCalls).toStrictEqual(['protocol-error']);
  });

  it('numbers outgoing data from 1, only after the handshake and before the end', () => {
    const s = setup({ startOnHandshake: false });
    expect(s.connection.send('early')).toBe(false);
    expect(s.transport.sent).toStrictEqual([]);
    s.transport.deliver(hello);
    s.connection.start(timing, false);
    expect(s.connection.send({ a: 1 })).toBe(true);
    expect(s.connection.send('b')).toBe(true);
    expect(s.connection.sentSeq).toBe(2);
    expect(s.transport.sentMessages).toStrictEqual([
      { type: MessageType.Data, seq: 1, body: { a: 1 } },
      { type: MessageType.Data, seq: 2, body: 'b' },
    ]);
    s.connection.close();
    expect(s.connection.send('late')).toBe(false);
    expect(s.connection.sentSeq).toBe(2);
  });

  it('hands goaway and status to their handlers', () => {
    const s = handshaken();
    s.transport.deliver({ type: MessageType.GoAway, code: 1001, reconnectDelay: 500, reason: 'restart' });
    s.transport.deliver({ type: MessageType.Status, visibility: 'hidden' });
    expect(s.other).toStrictEqual([
      { type: MessageType.GoAway, code: 1001, reconnectDelay: 500, reason: 'restart' },
      { type: MessageType.Status, visibility: 'hidden' },
    ]);
    expect(s.connection.ended).toBe(false);
  });
});

describe('Connection endings', () => {
  it('closes with peer-close on the peer close message, closing the transport normally without echoing its code', async () => {
    const s = handshaken();
    s.clock.advanceTo(400);
    s.transport.deliver({ type: MessageType.Close, code: 4001, reason: 'bye' });
    expect(s.connection.monitor.status).toStrictEqual({ state: 'closed', cause: 'peer-close', since: 400 });
    expect(s.connection.peerClose).toStrictEqual({ code: 4001, reason: 'bye' });
    expect(s.transport.closeCalls).toStrictEqual([[1000, '']]);
    expect(s.transport.sent).toStrictEqual([]);
    await s.transport.closed;
    expect(s.ended).toStrictEqual([{ state: 'closed', cause: 'peer-close', since: 400 }]);
  });

  it('accepts a close message before the handshake', () => {
    const s = setup();
    s.transport.deliver({ type: MessageType.Close, code: 4008, reason: 'full' });
    expect(s.connection.monitor.status).toStrictEqual({ state: 'closed', cause: 'peer-close', since: 0 });
    expect(s.connection.peerClose).toStrictEqual({ code: 4008, reason: 'full' });
  });

  it.each(['reset', 'closed-by-peer', 'kernel-keepalive'] as const)('goes dead with the transport cause %s', async (cause) => {
    const s = handshaken();
    s.clock.advanceTo(250);
    s.transport.end({ cause, error: new Error(cause) });
    await s.transport.closed;
    expect(s.connection.monitor.status).toStrictEqual({ state: 'dead', cause, since: 250 });
    expect(s.ended).toStrictEqual([{ state: 'dead', cause, since: 250 }]);
    expect(s.transport.sent).toStrictEqual([]);
    expect(s.clock.pending).toBe(0);
  });

  it('goes closed when the transport ends with local-close', async () => {
    const s = handshaken();
    s.transport.end({ cause: 'local-close' });
    await s.transport.closed;
    expect(s.connection.monitor.status).toStrictEqual({ state: 'closed', cause: 'local-close', since: 0 });
  });

  it('dies with frame-too-large and sends close 1009 when frames error with FrameTooLarge', () => {
    const s = handshaken();
    const error = new ProtocolError(ErrorCode.FrameTooLarge, 'frame of 2000000 bytes exceeds the limit of 1048576 bytes', CloseCode.FrameTooLarge);
    s.transport.inbound.error(error);
    expect(s.connection.monitor.status).toStrictEqual({ state: 'dead', cause: 'frame-too-large', since: 0 });
    expect(s.connection.error).toBe(error);
    expect(s.transport.sentMessages).toStrictEqual([
      { type: MessageType.Close, code: 1009, reason: 'frame of 2000000 bytes exceeds the limit of 1048576 bytes' },
    ]);
    expect(s.transport.destroyCalls).toStrictEqual(['frame-too-large']);
  });

  it('tears down a transport whose frames already errored when the connection subscribes', async () => {
    const unhandled: unknown[] = [];
    rxjsConfig.onUnhandledError = (e) => unhandled.push(e);
    try {
      const clock = new VirtualClock();
      const engine = new LivenessEngine({ scheduler: clock.scheduler, tickMs: 50 });
      const transport = new FakeTransport();
      transport.inbound.error(new ProtocolError(ErrorCode.FrameTooLarge, 'too big', CloseCode.FrameTooLarge));
      const ended: PeerStatus[] = [];
      const connection = new Connection(engine, transport, { handshake: () => undefined, data: () => undefined, ended: (s) => ended.push(s) }, HANDSHAKE_MS);
      expect(connection.monitor.status).toStrictEqual({ state: 'dead', cause: 'frame-too-large', since: 0 });
      expect(transport.sentMessages).toStrictEqual([{ type: MessageType.Close, code: 1009, reason: 'too big' }]);
      expect(transport.destroyCalls).toStrictEqual(['frame-too-large']);
      expect(ended).toHaveLength(1);
      // RxJS reports errors thrown in observers on a later macrotask; let any surface before checking.
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(unhandled).toStrictEqual([]);
    } finally {
      rxjsConfig.onUnhandledError = null;
    }
  });

  it('wraps any other frames error as a protocol error', () => {
    const s = handshaken();
    const cause = new Error('boom');
    s.transport.inbound.error(cause);
    expect(s.connection.monitor.status.cause).toBe('protocol-error');
    expect(s.connection.error!.code).toBe(ErrorCode.MalformedMessage);
    expect(s.connection.error!.cause).toBe(cause);
    expect(s.transport.sentMessages).toStrictEqual([{ type: MessageType.Close, code: 1002, reason: 'Error: boom' }]);
  });

  it('close() sends a close message, ends closed local-close, and is idempotent', async () => {
    const s = handshaken();
    s.clock.advanceTo(600);
    s.connection.close(CloseCode.GoingAway, 'shutdown');
    s.connection.close();
    s.connection.kill('reset', 1002);
    expect(s.connection.monitor.status).toStrictEqual({ state: 'closed', cause: 'local-close', since: 600 });
    expect(s.transport.sentMessages).toStrictEqual([{ type: MessageType.Close, code: 1001, reason: 'shutdown' }]);
    expect(s.transport.closeCalls).toStrictEqual([[1001, 'shutdown']]);
    expect(s.transport.destroyCalls).toStrictEqual([]);
    await s.transport.closed;
    expect(s.ended).toHaveLength(1);
  });

  it('kill() without a code sends nothing and destroys the transport', () => {
    const s = handshaken();
    s.connection.kill('slow-consumer');
    expect(s.connection.monitor.status.cause).toBe('slow-consumer');
    expect(s.transport.sent).toStrictEqual([]);
    expect(s.transport.destroyCalls).toStrictEqual(['slow-consumer']);
  });

  it('ignores frames after the end, and reports the end once', async () => {
    const s = handshaken();
    s.transport.deliver({ type: MessageType.Data, seq: 1, body: 'a' });
    s.connection.kill('protocol-error', 1002);
    s.transport.deliver({ type: MessageType.Data, seq: 2, body: 'b' });
    await s.transport.closed;
    expect(s.data).toStrictEqual([['a', 1]]);
    expect(s.ended).toHaveLength(1);
    expect(s.connection.sendMessage({ type: MessageType.Ack, ack: 1 })).toBe(false);
  });
});
