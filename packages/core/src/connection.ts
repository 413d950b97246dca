/**
 * A Vigil connection over any `Transport`, for either role: decodes and validates
 * messages, feeds the peer monitor, answers pings, numbers data through the session's
 * stream (acknowledging and replaying it on resumable sessions), closes a peer that
 * stops reading, and turns every way a connection can end into one terminal state with
 * a cause. Server and client sessions add their handshake on top.
 */
import {
  CloseCode,
  ErrorCode,
  MessageType,
  ProtocolError,
  decodeMessage,
  encodeMessage,
  encodePing,
  encodePong,
  readPong,
  type PongFields,
  type GoAwayMessage,
  type HelloMessage,
  type Message,
  type PingMessage,
  type StatusMessage,
  type WelcomeMessage,
} from '@vigil/protocol';
import { Subscription } from 'rxjs';
import type { PeerTiming } from './config.js';
import type { LivenessEngine } from './liveness-engine.js';
import type { Cause, PeerStatus } from './peer-state.js';
import { isTerminal } from './peer-state.js';
import { PeerMonitor, type MonitorHooks } from './peer-monitor.js';
import { ACK_DEFAULTS, SessionStream } from './session-stream.js';
import type { WheelTimer } from './timing-wheel.js';
import type { Transport, TransportEnd } from './transport.js';

export interface ConnectionHandlers {
  /** The first message: `hello` on a server, `welcome` on a client. Throw a ProtocolError to refuse it. */
  handshake(message: HelloMessage | WelcomeMessage): void;
  /** An application data message, in order, without duplicates. */
  data(body: unknown, seq: number): void;
  /** An RTT sample (ms) from a pong to our ping. */
  rtt?(sampleMs: number): void;
  /** A ping from the peer (already answered). */
  ping?(message: PingMessage): void;
  goaway?(message: GoAwayMessage): void;
  status?(message: StatusMessage): void;
  /** The connection reached `dead` or `closed`. Called once. */
  ended(status: PeerStatus): void;
}

/** Default send-buffer cap of servers and clients (`maxSendBufferBytes`): 8 MiB unsent means the peer is not reading. */
export const DEFAULT_MAX_SEND_BUFFER_BYTES = 8 * 1024 * 1024;

/** Per-connection limits and ack pacing; every field has a default. */
export interface ConnectionOptions {
  /**
   * Send-buffer cap, bytes: once the transport holds more than this unsent (the peer does
   * not read, so writes back up), the peer is declared dead with cause `slow-consumer`
   * and close 4005. 0 disables the check. Default 0 (servers and clients set their own).
   */
  readonly maxBufferedBytes?: number;
  /** Resumable sessions: send a standalone `ack` once this many data messages are unacknowledged. Default 32. */
  readonly ackEvery?: number;
  /** Resumable sessions: acknowledge within this many ms (plus a timer tick). Default 50. */
  readonly ackDelayMs?: number;
}

/** Maps a protocol error to the cause recorded for the connection. */
function causeOf(error: ProtocolError): Cause {
  if (error.code === ErrorCode.FrameTooLarge) return 'frame-too-large';
  if (error.code === ErrorCode.HandshakeTimeout) return 'handshake-timeout';
  if (error.code === ErrorCode.Rejected || error.code === ErrorCode.VersionMismatch) return 'rejected';
  return 'protocol-error';
}

/** The pong the fast path last read: one for all connections, as only one frame is handled at a time. */
const pongFields: PongFields = { seq: 0, echoTs: 0, time: 0, ack: -1 };

/**
 * What a transport may offer besides the `Transport` port: a plain sink for its inbound
 * side (the TCP and WebSocket transports do). A connection is its own sink, so it takes
 * frames and the end with no Subscriber chain, no promise reaction and no closures.
 */
interface SinkTransport {
  listen(sink: TransportSink): void;
}

/** @internal Receives a transport's payloads, its inbound failure and its end, once `listen`ed. */
export interface TransportSink {
  frame(payload: Uint8Array): void;
  frameError(error: unknown): void;
  transportEnded(end: TransportEnd): void;
}

/** What the TCP transport offers besides the port: sending a payload with its frame header written in place. */
interface FramedTransport {
  /** Bytes of header room a payload for `sendFramed` must start with. */
  readonly frameHeadroom: number;
  sendFramed(frame: Uint8Array): boolean;
}

function isFramed(transport: Transport): transport is Transport & FramedTransport {
  return typeof (transport as Partial<FramedTransport>).sendFramed === 'function';
}

function hasSink(transport: Transport): transport is Transport & SinkTransport {
  return typeof (transport as Partial<SinkTransport>).listen === 'function';
}

/** Close reasons stay short: the peer's decoder caps them, and they may quote peer input. */
function clip(reason: string): string {
  return reason.length <= 120 ? reason : `${reason.slice(0, 117)}...`;
}

export class Connection implements TransportSink {
  readonly monitor: PeerMonitor;
  /** The protocol error that killed this connection, if one did. */
  error: ProtocolError | null = null;
  /** Code and reason of the `close` message the peer sent, if it sent one. */
  peerClose: { code: number; reason: string } | null = null;
  /**
   * Least ms between pings this side sends on its own initiative (`ping()` calls); later
   * calls inside it are skipped. Clients set it from `welcome.options.minPingInterval`.
   */
  minPingIntervalMs = 0;
  private handshaken = false;
  private handshakeSeen = false;
  private stream = new SessionStream(null);
  private pingSeq = 0;
  private lastPingAt = Number.NEGATIVE_INFINITY;
  private unacked = 0;
  private ackTimer: WheelTimer | null = null;
  private readonly maxBufferedBytes: number;
  private readonly ackEvery: number;
  private readonly ackDelayMs: number;
  /** The subscription to a transport's frames that are only an Observable; null when the transport takes a `TransportSink` (no unsubscribing needed: an ended connection ignores frames). */
  private frames: Subscription | null = null;

  constructor(
    private readonly engine: LivenessEngine,
    readonly transport: Transport,
    private readonly handlers: ConnectionHandlers,
    handshakeTimeoutMs: number,
    id = '',
    options: ConnectionOptions = {},
  ) {
    this.maxBufferedBytes = options.maxBufferedBytes ?? 0;
    this.ackEvery = options.ackEvery ?? ACK_DEFAULTS.every;
    this.ackDelayMs = options.ackDelayMs ?? ACK_DEFAULTS.delayMs;
    this.monitor = new PeerMonitor(engine, id, new ConnectionHooks(this), handshakeTimeoutMs);
    if (hasSink(transport)) transport.listen(this);
    else {
      // Created first: an already-errored `frames` calls back into `kill` during `subscribe`.
      const subscription = (this.frames = new Subscription());
      subscription.add(transport.frames.subscribe({
        next: (payload) => this.receive(payload),
        error: (error: unknown) => this.fail(error),
      }));
      void transport.closed.then((end) => this.transportEnded(end));
    }
  }

  get ended(): boolean {
    return isTerminal(this.monitor.state);
  }

  /** Last data seq sent. */
  get sentSeq(): number {
    return this.stream.outSeq;
  }

  /** Last data seq received in order. */
  get receivedSeq(): number {
    return this.stream.inSeq;
  }

  /** The session data stream this connection numbers, delivers and acknowledges through. */
  get session(): SessionStream {
    return this.stream;
  }

  /**
   * Binds the connection to a session's stream (a new one, or the one a resumed session
   * kept), before `start`. Without it a connection uses a plain stream of its own.
   */
  attach(stream: SessionStream): void {
    this.stream = stream;
  }

  /** Handshake complete: start liveness with the negotiated timing. */
  start(timing: PeerTiming, pinging: boolean): void {
    this.handshaken = true;
    this.monitor.start(timing, pinging);
  }

  /** Sends one protocol message; false once the transport no longer accepts. */
  sendMessage(message: Message): boolean {
    if (this.ended) return false;
    return this.write(encodeMessage(message));
  }

  /** Sends application data; false if the connection has ended (and, on a resumable session, the message was not kept for replay). */
  send(body: unknown): boolean {
    if (this.ended || !this.handshaken) return false;
    const stream = this.stream;
    const payload = stream.nextData(body, stream.ackPending ? this.acked() : undefined);
    // A message kept for replay is not lost even if this transport just failed: it goes out on resume.
    return this.write(payload) || stream.resumable;
  }

  /**
   * Resumed session: sends what the peer missed, the held messages after its ack `peerAck`,
   * in order. Returns how many, or -1 (sending nothing) when they are not all held.
   */
  replayFrom(peerAck: number): number {
    const payloads = this.stream.replayAfter(peerAck);
    if (payloads === null) return -1;
    for (const payload of payloads) if (!this.write(payload)) break;
    return payloads.length;
  }

  /**
   * Sends a ping now, unless one went out less than `minPingIntervalMs` ago.
   * Returns whether it was sent.
   */
  ping(now = this.engine.now()): boolean {
    if (now - this.lastPingAt < this.minPingIntervalMs) return false;
    this.lastPingAt = now;
    this.heartbeat(now);
    return true;
  }

  /** Sends one ping carrying our SRTT and, on a resumable session, our ack (encoded from its fields: no message object). */
  private heartbeat(now: number): void {
    this.pingSeq = (this.pingSeq + 1) >>> 0;
    this.engine.stats.pingsSent++;
    if (this.ended) return;
    const rtt = this.monitor.rtt.srtt;
    const ack = this.stream.acking ? this.acked() : undefined;
    const rttField = Number.isNaN(rtt) ? undefined : Math.round(rtt * 100) / 100;
    this.writeHeartbeat(encodePing(this.pingSeq, now, ack, rttField, this.headroom()));
  }

  /** Header room a heartbeat encoder must leave: the framing transport's, else none. */
  private headroom(): number {
    const transport = this.transport;
    return isFramed(transport) ? transport.frameHeadroom : 0;
  }

  /** Sends a ping or pong encoded with `headroom()`: straight into the frame the socket writes where it can (one buffer, no copy). */
  private writeHeartbeat(payload: Uint8Array): void {
    const transport = this.transport;
    if (!isFramed(transport)) this.write(payload);
    else if (transport.sendFramed(payload)) this.checkBacklog();
  }

  /** Orderly close: a `close` message, then the transport's half-close. */
  close(code: number = CloseCode.Normal, reason = '', cause: Cause = 'local-close'): void {
    if (this.ended) return;
    reason = clip(reason);
    this.transport.send(encodeMessage({ type: MessageType.Close, code, reason }));
    this.monitor.end('closed', cause);
    this.frames?.unsubscribe();
    this.transport.close(code, reason);
  }

  /** Declares the peer dead and destroys the transport at once (nothing graceful that could hang). */
  kill(cause: Cause, code?: number, reason: string = cause): void {
    if (this.ended) return;
    // Best effort: tell a peer that can still hear us why, without waiting for it.
    if (code !== undefined) this.transport.send(encodeMessage({ type: MessageType.Close, code, reason: clip(reason) }));
    this.monitor.end('dead', cause);
    this.frames?.unsubscribe();
    this.transport.destroy(cause);
  }

  /** Hands a payload to the transport; a peer that lets our send buffer pass its cap is a slow consumer. */
  private write(payload: Uint8Array): boolean {
    const ok = this.transport.send(payload);
    if (ok) this.checkBacklog();
    return ok;
  }

  private checkBacklog(): void {
    const cap = this.maxBufferedBytes;
    if (cap > 0 && this.transport.bufferedBytes > cap && !this.ended) {
      this.kill('slow-consumer', CloseCode.SlowConsumer, `slow-consumer: more than ${cap} bytes unsent`);
    }
  }

  /** The ack to send now (the last seq delivered); marks it sent. */
  private acked(): number {
    const stream = this.stream;
    stream.ackSent = stream.inSeq;
    this.unacked = 0;
    this.ackTimer?.cancel();
    return stream.inSeq;
  }

  /** After delivering data on a resumable session: acknowledge every `ackEvery` messages, or after `ackDelayMs`. */
  private scheduleAck(): void {
    if (!this.stream.acking) return;
    if (++this.unacked >= this.ackEvery) {
      this.sendAck();
      return;
    }
    this.ackTimer ??= this.engine.wheel.timer(() => this.sendAck());
    if (!this.ackTimer.armed) this.ackTimer.schedule(this.engine.now() + this.ackDelayMs);
  }

  private sendAck(): void {
    if (this.ended || !this.stream.ackPending) return;
    this.sendMessage({ type: MessageType.Ack, ack: this.acked() });
  }

  private fail(error: unknown): void {
    const pe =
      error instanceof ProtocolError ? error : new ProtocolError(ErrorCode.MalformedMessage, String(error), CloseCode.ProtocolError, { cause: error });
    this.error = pe;
    this.kill(causeOf(pe), pe.closeCode, pe.message);
  }

  /** @internal The monitor ended the peer. */
  monitorEnded(status: PeerStatus): void {
    this.ackTimer?.cancel();
    this.handlers.ended(status);
  }

  /** @internal A payload from the transport (`TransportSink`). */
  frame(payload: Uint8Array): void {
    this.receive(payload);
  }

  /** @internal The transport's frame stream failed (`TransportSink`). */
  frameError(error: unknown): void {
    if (!this.ended) this.fail(error);
  }

  private receive(payload: Uint8Array): void {
    if (this.ended) return;
    // The heartbeat fast path: a pong read from its bytes, no decoder and no message object.
    if (this.handshaken && readPong(payload, pongFields)) {
      this.monitor.touch(true);
      try {
        this.pong(pongFields.seq, pongFields.echoTs, pongFields.time, pongFields.ack);
      } catch (error) {
        if (error instanceof ProtocolError) this.fail(error);
        else throw error;
      }
      return;
    }
    let message: Message;
    try {
      message = decodeMessage(payload);
    } catch (error) {
      this.fail(error);
      return;
    }
    this.monitor.touch(message.type === MessageType.Ping || message.type === MessageType.Pong);
    try {
      this.dispatch(message);
    } catch (error) {
      if (error instanceof ProtocolError) this.fail(error);
      else throw error;
    }
  }

  private dispatch(m: Message): void {
    if (!this.handshaken) {
      if (m.type === MessageType.Hello || m.type === MessageType.Welcome) {
        // The handshake may be answered later (an async authenticate hook): a second one meanwhile is out of order.
        if (this.handshakeSeen) throw new ProtocolError(ErrorCode.UnexpectedMessage, `a second handshake message (type ${m.type}) before the handshake completed`);
        this.handshakeSeen = true;
        this.handlers.handshake(m);
        return;
      }
      if (m.type === MessageType.Close) {
        this.peerClosed(m.code, m.reason);
        return;
      }
      throw new ProtocolError(ErrorCode.UnexpectedMessage, `message type ${m.type} before the handshake completed`);
    }
    switch (m.type) {
      case MessageType.Ping: {
        if (m.ack !== undefined) this.stream.acked(m.ack);
        const ack = this.stream.acking ? this.acked() : undefined;
        if (!this.ended) this.writeHeartbeat(encodePong(m.seq, m.ts, this.engine.now(), ack, this.headroom()));
        this.handlers.ping?.(m);
        return;
      }
      case MessageType.Pong:
        this.pong(m.seq, m.echoTs, m.time, m.ack ?? -1);
        return;
      case MessageType.Data:
        if (m.ack !== undefined) this.stream.acked(m.ack);
        if (!this.stream.accept(m.seq)) return;
        this.handlers.data(m.body, m.seq);
        if (!this.ended) this.scheduleAck();
        return;
      case MessageType.Ack:
        this.stream.acked(m.ack);
        return;
      case MessageType.Close:
        this.peerClosed(m.code, m.reason);
        return;
      case MessageType.GoAway:
        this.handlers.goaway?.(m);
        return;
      case MessageType.Status:
        this.handlers.status?.(m);
        return;
      case MessageType.Hello:
      case MessageType.Welcome:
        throw new ProtocolError(ErrorCode.UnexpectedMessage, `message type ${m.type} after the handshake`);
    }
  }

  /** A pong (`ack` -1 when absent): an RTT sample if it answers one of our recent pings. */
  private pong(seq: number, echoTs: number, time: number, ack: number): void {
    if (ack >= 0) this.stream.acked(ack);
    // Only pongs to one of our recent pings carry a usable RTT.
    if (((this.pingSeq - seq) >>> 0) >= 64 || echoTs > this.engine.now()) return;
    this.engine.stats.pongsReceived++;
    this.monitor.pong(echoTs, time);
    this.handlers.rtt?.(this.monitor.rtt.last);
  }

  private peerClosed(code: number, reason: string): void {
    this.peerClose = { code, reason };
    this.monitor.end('closed', 'peer-close');
    this.frames?.unsubscribe();
    // Never echo the peer's code: it may be one a WebSocket close frame cannot carry.
    this.transport.close(CloseCode.Normal, '');
  }

  /** @internal The transport ended (`TransportSink`). */
  transportEnded(end: TransportEnd): void {
    if (this.ended) return;
    this.frames?.unsubscribe();
    if (end.cause === 'local-close') this.monitor.end('closed', 'local-close');
    else this.monitor.end('dead', end.cause);
  }
}

/** A connection's monitor hooks: one small object with prototype methods, not three closures and their context per connection. */
class ConnectionHooks implements MonitorHooks {
  constructor(private readonly connection: Connection) {}

  ping(now: number): void {
    this.connection.ping(now);
  }

  expire(cause: Cause): void {
    this.connection.kill(cause, cause === 'handshake-timeout' ? CloseCode.HandshakeTimeout : CloseCode.HeartbeatTimeout);
  }

  ended(status: PeerStatus): void {
    this.connection.monitorEnded(status);
  }
}
