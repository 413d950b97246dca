/**
 * @vigil/protocol: the Vigil wire format. Constants, message types, the msgpack
 * codec, the TCP frame decoder and the error catalog. No I/O.
 */
export {
  PROTOCOL_VERSION,
  FRAME_HEADER_BYTES,
  DEFAULT_MAX_FRAME_BYTES,
  MAX_FRAME_BYTES_LIMIT,
  WS_SUBPROTOCOL,
  MessageType,
  CloseCode,
  Visibility,
} from './constants.js';
export type {
  Message,
  HelloMessage,
  HelloOptions,
  WelcomeMessage,
  WelcomeOptions,
  PingMessage,
  PongMessage,
  DataMessage,
  AckMessage,
  CloseMessage,
  GoAwayMessage,
  StatusMessage,
} from './messages.js';
export { encodeMessage, decodeMessage } from './codec.js';
export { FrameDecoder, encodeFrame, encodeFrameHeader } from './frame-decoder.js';
export { ErrorCode, VigilError, ProtocolError, ConfigError, RejectedError } from './errors.js';
export { encodePing, encodePong, readPong, type PongFields } from './heartbeat-codec.js';
