/**
 * A Vigil connection over any `Transport`, for either role: decodes and validates
 * messages, feeds the peer monitor, answers pings, numbers data, and turns every way
 * a connection can end into one terminal state with a cause. Server and client
 * sessions add their handshake on top.
 */
import {
  CloseCode,
  ErrorCode,
  MessageType,
  ProtocolError,
  decodeMessage,
  encodeMessage,
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
import { PeerMonitor } from './peer-monitor.js';
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

/** Maps a protocol error to the cause recorded for the connection. */
function causeOf(error: ProtocolError): Cause {
  if (error.code === ErrorCode.FrameTooLarge) return 'frame-too-large';
  if (error.code === ErrorCode.HandshakeTimeout) return 'handshake-timeout';
  if (error.code === ErrorCode.Rejected || error.code === ErrorCode.VersionMismatch) return 'rejected';
  return 'protocol-error';
}

/** Close reasons stay short: the peer's decoder caps them, and they may quote peer input. */
function clip(reason: string): string {
  return reason.length <= 120 ? reason : `${reason.slice(0, 117)}...`;
}

export class Connection {
  readonly monitor: PeerMonitor;
  /** The protocol error that killed this connection, if one did. */
  error: ProtocolError | null = null;
  /** Code and reason of the `close` message the peer sent, if it sent one. */
  peerClose: { code: number; reason: string } | null = null;
  private handshaken = false;
  private outSeq = 0;
  private inSeq = 0;
  private pingSeq = 0;
  // Created first: an already-errored `frames` calls back into `kill` during `subscribe`.
  private readonly frames = new Subscription();

  constructor(
    private readonly engine: LivenessEngine,
    readonly transport: Transport,
    private readonly handlers: ConnectionHandlers,
    handshakeTimeoutMs: number,
    id = '',
  ) {
    this.monitor = new PeerMonitor(
      engine,
      id,
      {
        ping: (now) => this.ping(now),
        expire: (cause) => this.kill(cause, cause === 'handshake-timeout' ? CloseCode.HandshakeTimeout : CloseCode.HeartbeatTimeout),
        ended: (status) => this.handlers.ended(status),
      },
      handshakeTimeoutMs,
    );
    this.frames.add(transport.frames.subscribe({
      next: (payload) => this.receive(payload),
      error: (error: unknown) => this.fail(error),
    }));
    void transport.closed.then((end) => this.transportEnded(end));
  }

  get ended(): boolean {
    return isTerminal(this.monitor.state);
  }

  /** Last data seq sent. */
  get sentSeq(): number {
    return this.outSeq;
  }

  /** Last data seq received in order. */
  get receivedSeq(): number {
    return this.inSeq;
  }

  /** Handshake complete: start liveness with the negotiated timing. */
  start(timing: PeerTiming, pinging: boolean): void {
    this.handshaken = true;
    this.monitor.start(timing, pinging);
  }

  /** Sends one protocol message; false once the transport no longer accepts. */
  sendMessage(message: Message): boolean {
    if (this.ended) return false;
    return this.transport.send(encodeMessage(message));
  }

  /** Sends application data; false if the connection has ended. */
  send(body: unknown): boolean {
    if (this.ended || !this.handshaken) return false;
    return this.transport.send(encodeMessage({ type: MessageType.Data, seq: ++this.outSeq, body }));
  }

  /** Sends a ping now. */
  ping(now = this.engine.now()): void {
    this.pingSeq = (this.pingSeq + 1) >>> 0;
    this.engine.stats.pingsSent++;
    const rtt = this.monitor.rtt.srtt;
    this.sendMessage({ type: MessageType.Ping, seq: this.pingSeq, ts: now, ...(Number.isNaN(rtt) ? {} : { rtt: Math.round(rtt * 100) / 100 }) });
  }

  /** Orderly close: a `close` message, then the transport's half-close. */
  close(code: number = CloseCode.Normal, reason = '', cause: Cause = 'local-close'): void {
    if (this.ended) return;
    reason = clip(reason);
    this.sendMessage({ type: MessageType.Close, code, reason });
    this.monitor.end('closed', cause);
    this.frames.unsubscribe();
    this.transport.close(code, reason);
  }

  /** Declares the peer dead and destroys the transport at once (nothing graceful that could hang). */
  kill(cause: Cause, code?: number, reason: string = cause): void {
    if (this.ended) return;
    // Best effort: tell a peer that can still hear us why, without waiting for it.
    if (code !== undefined) this.sendMessage({ type: MessageType.Close, code, reason: clip(reason) });
    this.monitor.end('dead', cause);
    this.frames.unsubscribe();
    this.transport.destroy(cause);
  }

  private fail(error: unknown): void {
    const pe =
      error instanceof ProtocolError ? error : new ProtocolError(ErrorCode.MalformedMessage, String(error), CloseCode.ProtocolError, { cause: error });
    this.error = pe;
    this.kill(causeOf(pe), pe.closeCode, pe.message);
  }

  private receive(payload: Uint8Array): void {
    if (this.ended) return;
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
      case MessageType.Ping:
        this.sendMessage({ type: MessageType.Pong, seq: m.seq, echoTs: m.ts, time: this.engine.now() });
        this.handlers.ping?.(m);
        return;
      case MessageType.Pong:
        // Only pongs to one of our recent pings carry a usable RTT.
        if (((this.pingSeq - m.seq) >>> 0) >= 64 || m.echoTs > this.engine.now()) return;
        this.engine.stats.pongsReceived++;
        this.monitor.pong(m.echoTs, m.time);
        this.handlers.rtt?.(this.monitor.rtt.last);
        return;
      case MessageType.Data:
        if (m.seq <= this.inSeq) return;
        if (m.seq !== this.inSeq + 1) {
          throw new ProtocolError(ErrorCode.MalformedMessage, `data seq ${m.seq} skips ahead of ${this.inSeq + 1}`);
        }
        this.inSeq = m.seq;
        this.handlers.data(m.body, m.seq);
        return;
      case MessageType.Ack:
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

  private peerClosed(code: number, reason: string): void {
    this.peerClose = { code, reason };
    this.monitor.end('closed', 'peer-close');
    this.frames.unsubscribe();
    // Never echo the peer's code: it may be one a WebSocket close frame cannot carry.
    this.transport.close(CloseCode.Normal, '');
  }

  private transportEnded(end: TransportEnd): void {
    if (this.ended) return;
    this.frames.unsubscribe();
    if (end.cause === 'local-close') this.monitor.end('closed', 'local-close');
    else this.monitor.end('dead', end.cause);
  }
}
