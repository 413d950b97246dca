/**
 * Decoded Vigil messages. On the wire each is a msgpack array whose first element
 * is the `MessageType` tag; the field order of each array is documented beside the type.
 * Optional trailing fields may be omitted or `nil`; receivers ignore extra trailing fields.
 */
import type { Visibility } from './constants.js';
import { MessageType } from './constants.js';

/** Options a client sends in `hello`. Unknown keys are ignored. */
export interface HelloOptions {
  /** Requested ping interval in ms; the server clamps it. */
  readonly interval?: number;
  /** Opaque credential for the server's authenticate hook. */
  readonly token?: string;
  /**
   * Resume a previous session: its id and the last data seq this client received in order.
   * Sent only after a `welcome` that offered resume (`resumeWindow`); see docs/protocol.md §7.3.
   */
  readonly resume?: { readonly session: string; readonly ack: number };
}

/** `[1, version, clientId, options]` */
export interface HelloMessage {
  readonly type: typeof MessageType.Hello;
  readonly version: number;
  /** Client-chosen identity; empty string lets the server assign one. */
  readonly clientId: string;
  readonly options: HelloOptions;
}

/** Options a server sends in `welcome`. Unknown keys are ignored. */
export interface WelcomeOptions {
  /** True when the requested session was resumed. */
  readonly resumed?: boolean;
  /** Last data seq the server received in order (for resume replay). */
  readonly ack?: number;
  /** Minimum ms between client-initiated pings before the server counts strikes. */
  readonly minPingInterval?: number;
  /**
   * Present when this session is resumable: ms the server holds it after its transport
   * ends. Both sides then acknowledge data and keep unacknowledged messages for replay.
   */
  readonly resumeWindow?: number;
}

/** `[2, version, sessionId, peerId, interval, timeout, serverTime, options]` */
export interface WelcomeMessage {
  readonly type: typeof MessageType.Welcome;
  readonly version: number;
  readonly sessionId: string;
  /** The id under which the server knows this client. */
  readonly peerId: string;
  /** Ping interval the server will use, ms. */
  readonly interval: number;
  /** Silence after which the server declares the client dead, ms. */
  readonly timeout: number;
  /** Server clock at send, ms since the Unix epoch. */
  readonly serverTime: number;
  readonly options: WelcomeOptions;
}

/** `[3, seq, ts, ack?, rtt?]` */
export interface PingMessage {
  readonly type: typeof MessageType.Ping;
  /** Ping sequence number, per direction, starting at 1, wrapping at 2^32. */
  readonly seq: number;
  /** Sender's clock at send (ms); echoed unchanged in the pong. */
  readonly ts: number;
  /** Cumulative ack: highest data seq received in order, if any. */
  readonly ack?: number;
  /** Sender's smoothed RTT estimate (ms), so the other side learns RTT without pinging. */
  readonly rtt?: number;
}

/** `[4, seq, echoTs, time, ack?]` */
export interface PongMessage {
  readonly type: typeof MessageType.Pong;
  /** The `seq` of the ping being answered. */
  readonly seq: number;
  /** The ping's `ts`, unchanged. */
  readonly echoTs: number;
  /** Responder's clock when it sent the pong (ms), for clock-offset estimation. */
  readonly time: number;
  readonly ack?: number;
}

/** `[5, seq, body, ack?]` */
export interface DataMessage<T = unknown> {
  readonly type: typeof MessageType.Data;
  /** Data sequence number, per direction, starting at 1. */
  readonly seq: number;
  /** Any msgpack value. */
  readonly body: T;
  readonly ack?: number;
}

/** `[6, ack]` */
export interface AckMessage {
  readonly type: typeof MessageType.Ack;
  readonly ack: number;
}

/** `[7, code, reason]` */
export interface CloseMessage {
  readonly type: typeof MessageType.Close;
  readonly code: number;
  readonly reason: string;
}

/** `[8, code, reconnectDelay, reason]` */
export interface GoAwayMessage {
  readonly type: typeof MessageType.GoAway;
  readonly code: number;
  /** Ms the client should wait before reconnecting. */
  readonly reconnectDelay: number;
  readonly reason: string;
}

/** `[9, visibility]` */
export interface StatusMessage {
  readonly type: typeof MessageType.Status;
  readonly visibility: Visibility;
}

export type Message =
  | HelloMessage
  | WelcomeMessage
  | PingMessage
  | PongMessage
  | DataMessage
  | AckMessage
  | CloseMessage
  | GoAwayMessage
  | StatusMessage;
