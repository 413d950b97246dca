/**
 * `Connection` on a resumable session stream, in virtual time: acknowledgements (every
 * 32 messages, else after the ack delay, and riding on pongs, pings and data), acks
 * releasing the replay buffer, replay after a resume, the send-buffer cap (slow
 * consumer), the client's own ping rate limit, and an async handshake's ordering rule.
 */
import { CloseCode, ErrorCode, MessageType, type HelloMessage, type Message } from '@vigil/protocol';
import type { PeerTiming } from '../src/config.js';
import { Connection, type ConnectionOptions } from '../src/connection.js';
import { LivenessEngine } from '../src/liveness-engine.js';
import { SessionStream } from '../src/session-stream.js';
import { FakeTransport } from './fake-transport.js';
import { VirtualClock } from './virtual-time.js';

const timing: PeerTiming = { intervalMs: 1000, suspectAfterMs: 1500, timeoutMs: 3000, jitter: 0.1 };
const hello: HelloMessage = { type: MessageType.Hello, version: 1, clientId: 'c1', options: {} };
const LIMITS = { maxMessages: 100, maxBytes: 100_000 };

function setup(options: { pinging?: boolean; resumable?: boolean; start?: boolean; connection?: ConnectionOptions } = {}) {
  const clock = new VirtualClock();
  const engine = new LivenessEngine({ scheduler: clock.scheduler, tickMs: 10, random: () => 0, stallGuard: false });
  const transport = new FakeTransport();
  const stream = new SessionStream(options.resumable === false ? null : LIMITS);
  const data: unknown[] = [];
  const connection: Connection = new Connection(
    engine,
    transport,
    {
      handshake: () => {
        connection.attach(stream);
        if (options.start ?? true) connection.start(timing, options.pinging ?? false);
      },
      data: (body) => data.push(body),
      ended: () => undefined,
    },
    5000,
    'peer',
    { ackDelayMs: 50, ...options.connection },
  );
  transport.deliver(hello);
  const sent = (): Message[] => transport.sentMessages;
  const deliverData = (from: number, to: number, ack?: number): void => {
    for (let seq = from; seq <= to; seq++) transport.deliver({ type: MessageType.Data, seq, body: seq, ...(ack === undefined ? {} : { ack }) });
  };
  return { clock, engine, transport, stream, connection, data, sent, deliverData };
}

describe('Connection acknowledgements (resumable session)', () => {
  it('sends a standalone ack after every 32 messages received', () => {
    const s = setup();
    s.deliverData(1, 31);
    expect(s.sent()).toEqual([]);
    s.deliverData(32, 32);
    expect(s.sent()).toEqual([{ type: MessageType.Ack, ack: 32 }]);
    s.deliverData(33, 64);
    expect(s.sent()).toEqual([
      { type: MessageType.Ack, ack: 32 },
      { type: MessageType.Ack, ack: 64 },
    ]);
  });

  it('acknowledges fewer messages after the ack delay (plus at most a tick), once', () => {
    const s = setup();
    s.deliverData(1, 3);
    s.clock.advance(49);
    expect(s.sent()).toEqual([]);
    s.clock.advance(11);
    expect(s.sent()).toEqual([{ type: MessageType.Ack, ack: 3 }]);
    s.clock.advance(500);
    expect(s.sent()).toHaveLength(1);
  });

  it('the ack rides on a pong, on our pings and on our data, and then no standalone ack is sent', () => {
    const s = setup({ pinging: true });
    s.deliverData(1, 2);
    s.transport.deliver({ type: MessageType.Ping, seq: 1, ts: 5 });
    expect(s.sent()).toEqual([{ type: MessageType.Pong, seq: 1, echoTs: 5, time: 0, ack: 2 }]);
    s.deliverData(3, 3);
    s.connection.send('out');
    expect(s.sent()[1]).toEqual({ type: MessageType.Data, seq: 1, body: 'out', ack: 3 });
    s.clock.advanceTo(880);
    s.deliverData(4, 4);
    s.clock.advanceTo(900);
    expect(s.sent()[2]).toEqual({ type: MessageType.Ping, seq: 1, ts: 900, ack: 4 });
    s.clock.advance(200);
    expect(s.sent().filter((m) => m.type === MessageType.Ack)).toEqual([]);
  });

  it('acks from the peer release the replay buffer, on any message that carries one', () => {
    const s = setup();
    for (let i = 0; i < 10; i++) s.connection.send(i);
    expect(s.stream.backlog).toBe(10);
    s.transport.deliver({ type: MessageType.Ack, ack: 4 });
    expect(s.stream.backlog).toBe(6);
    s.transport.deliver({ type: MessageType.Pong, seq: 9, echoTs: 0, time: 0, ack: 6 });
    s.transport.deliver({ type: MessageType.Data, seq: 1, body: 'x', ack: 8 });
    s.transport.deliver({ type: MessageType.Ping, seq: 1, ts: 0, ack: 10 });
    expect(s.stream.backlog).toBe(0);
  });

  it('an ack of data never sent kills the connection with 1002', () => {
    const s = setup();
    s.connection.send('a');
    s.transport.deliver({ type: MessageType.Ack, ack: 2 });
    expect(s.connection.monitor.status.cause).toBe('protocol-error');
    expect(s.connection.error?.code).toBe(ErrorCode.MalformedMessage);
    expect(s.sent().at(-1)).toEqual({ type: MessageType.Close, code: 1002, reason: 'ack 2 is ahead of the last data seq sent (1)' });
  });

  it('a plain session sends no acks and ignores acks it receives', () => {
    const s = setup({ resumable: false, pinging: true });
    s.deliverData(1, 40);
    s.transport.deliver({ type: MessageType.Ack, ack: 99 });
    s.transport.deliver({ type: MessageType.Ping, seq: 1, ts: 5 });
    s.clock.advanceTo(900);
    expect(s.sent()).toEqual([
      { type: MessageType.Pong, seq: 1, echoTs: 5, time: 0 },
      { type: MessageType.Ping, seq: 1, ts: 900 },
    ]);
    expect(s.connection.ended).toBe(false);
  });

  it('replayFrom sends what follows the peer ack, in order, as it was first sent', () => {
    const s = setup();
    for (const body of ['a', 'b', 'c', 'd']) s.connection.send(body);
    const before = s.transport.sent.length;
    expect(s.connection.replayFrom(2)).toBe(2);
    expect(s.transport.sent.slice(before).map((p) => s.transport.sentMessages[s.transport.sent.indexOf(p)])).toEqual([
      { type: MessageType.Data, seq: 3, body: 'c' },
      { type: MessageType.Data, seq: 4, body: 'd' },
    ]);
    expect(s.stream.backlog).toBe(2);
    // Something the peer needs is gone: no partial replay.
    expect(s.connection.replayFrom(0)).toBe(-1);
  });

  it('send reports a message kept for replay as accepted even if the transport refuses it', () => {
    const s = setup();
    s.transport.end({ cause: 'reset' });
    // The connection has not processed the end yet (it does so a microtask later).
    expect(s.connection.ended).toBe(false);
    expect(s.connection.send('kept')).toBe(true);
    expect(s.stream.backlog).toBe(1);
  });
});

describe('Connection limits', () => {
  it('a peer that lets the send buffer pass its cap is a slow consumer: close 4005, transport destroyed', () => {
    const s = setup({ resumable: false, connection: { maxBufferedBytes: 1000 } });
    s.connection.send('fits');
    expect(s.connection.ended).toBe(false);
    (s.transport as unknown as { bufferedBytes: number }).bufferedBytes = 1001;
    s.connection.send('one too many');
    expect(s.connection.monitor.status.state).toBe('dead');
    expect(s.connection.monitor.status.cause).toBe('slow-consumer');
    expect(s.sent().at(-1)).toEqual({ type: MessageType.Close, code: CloseCode.SlowConsumer, reason: 'slow-consumer: more than 1000 bytes unsent' });
    expect(s.transport.destroyCalls).toEqual(['slow-consumer']);
  });

  it('without a cap, a full buffer is left to the heartbeat', () => {
    const s = setup({ resumable: false });
    (s.transport as unknown as { bufferedBytes: number }).bufferedBytes = 1e9;
    s.connection.send('x');
    expect(s.connection.ended).toBe(false);
  });

  it('ping() holds to minPingIntervalMs; scheduled heartbeats are not affected on a server (0)', () => {
    const s = setup({ resumable: false });
    s.connection.minPingIntervalMs = 1000;
    expect(s.connection.ping()).toBe(true);
    s.clock.advance(999);
    expect(s.connection.ping()).toBe(false);
    s.clock.advance(1);
    expect(s.connection.ping()).toBe(true);
    expect(s.sent().filter((m) => m.type === MessageType.Ping)).toHaveLength(2);
  });

  it('a second hello while the first is still being answered (async handshake) is a protocol error', () => {
    const s = setup({ start: false });
    s.transport.deliver(hello);
    expect(s.connection.monitor.status.cause).toBe('protocol-error');
    expect(s.connection.error?.code).toBe(ErrorCode.UnexpectedMessage);
  });
});
