/**
 * The Vigil wire, in one place: protocol version, frame layout, message type tags,
 * close codes and limits. `docs/protocol.md` is the prose form of this module;
 * change one, change the other.
 */

/** Protocol version carried in `hello` and `welcome`. */
export const PROTOCOL_VERSION = 1;

/** TCP frame header: payload length as an unsigned 32-bit big-endian integer. */
export const FRAME_HEADER_BYTES = 4;

/** Default largest accepted payload (1 MiB). A larger declared length closes the connection. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

/** Hard ceiling on `maxFrameBytes` a user may configure (64 MiB). */
export const MAX_FRAME_BYTES_LIMIT = 64 * 1024 * 1024;

/** WebSocket subprotocol name offered by clients and accepted by servers. */
export const WS_SUBPROTOCOL = 'vigil.v1';

/**
 * Message type tags: the first element of every message array.
 * 0 and 10..31 are reserved for future versions; receivers close with
 * `CloseCode.ProtocolError` on an unknown tag.
 */
export const MessageType = {
  Hello: 1,
  Welcome: 2,
  Ping: 3,
  Pong: 4,
  Data: 5,
  Ack: 6,
  Close: 7,
  GoAway: 8,
  Status: 9,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/**
 * Close codes sent in `close` and `goaway` messages, and as the WebSocket close
 * code on the WebSocket transport. 1xxx mirror RFC 6455 §7.4.1; 4xxx are Vigil's.
 */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  FrameTooLarge: 1009,
  InternalError: 1011,
  HandshakeTimeout: 4000,
  HeartbeatTimeout: 4001,
  VersionMismatch: 4002,
  Unauthorized: 4003,
  Replaced: 4004,
  SlowConsumer: 4005,
  TooManyPings: 4006,
  ResumeRejected: 4007,
  ServerFull: 4008,
  RateLimited: 4009,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Page visibility a client reports in a `status` message (reserved for browser clients). */
export const Visibility = {
  Visible: 'visible',
  Hidden: 'hidden',
  Frozen: 'frozen',
  Offline: 'offline',
} as const;
export type Visibility = (typeof Visibility)[keyof typeof Visibility];
