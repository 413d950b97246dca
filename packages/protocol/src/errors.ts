/**
 * Vigil's error catalog: every error the packages throw or report carries one of
 * these stable codes. Each code is documented in `docs/errors.md` (a test checks it).
 */
import { CloseCode } from './constants.js';

export const ErrorCode = {
  FrameTooLarge: 'ERR_VIGIL_FRAME_TOO_LARGE',
  MalformedMessage: 'ERR_VIGIL_MALFORMED_MESSAGE',
  UnknownMessageType: 'ERR_VIGIL_UNKNOWN_MESSAGE_TYPE',
  UnexpectedMessage: 'ERR_VIGIL_UNEXPECTED_MESSAGE',
  VersionMismatch: 'ERR_VIGIL_VERSION_MISMATCH',
  HandshakeTimeout: 'ERR_VIGIL_HANDSHAKE_TIMEOUT',
  InvalidConfig: 'ERR_VIGIL_INVALID_CONFIG',
  InvalidUrl: 'ERR_VIGIL_INVALID_URL',
  NotConnected: 'ERR_VIGIL_NOT_CONNECTED',
  Closed: 'ERR_VIGIL_CLOSED',
  Rejected: 'ERR_VIGIL_REJECTED',
  ResumeRejected: 'ERR_VIGIL_RESUME_REJECTED',
  SocketOptionUnsupported: 'ERR_VIGIL_SOCKET_OPTION_UNSUPPORTED',
  SocketOptionFailed: 'ERR_VIGIL_SOCKET_OPTION_FAILED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class of every Vigil error: a stable `code` and an optional `cause`. */
export class VigilError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VigilError';
    this.code = code;
  }
}

/** A peer broke the wire protocol; `closeCode` is what the connection closes with. */
export class ProtocolError extends VigilError {
  readonly closeCode: CloseCode;

  constructor(code: ErrorCode, message: string, closeCode: CloseCode = CloseCode.ProtocolError, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ProtocolError';
    this.closeCode = closeCode;
  }
}

/**
 * The server refused the session with a `close` (or the client refused the server's
 * `welcome`): `closeCode` and `reason` say why. `final` when retrying cannot help
 * (4002, 4003, 4004), so the client stopped; otherwise it keeps reconnecting.
 */
export class RejectedError extends VigilError {
  readonly closeCode: number;
  readonly reason: string;
  readonly final: boolean;

  constructor(closeCode: number, reason: string, final: boolean) {
    super(ErrorCode.Rejected, `server refused the session (${closeCode}): ${reason}`);
    this.name = 'RejectedError';
    this.closeCode = closeCode;
    this.reason = reason;
    this.final = final;
  }
}

/** A configuration value was refused; `field` names it. */
export class ConfigError extends VigilError {
  readonly field: string;

  constructor(field: string, message: string) {
    super(ErrorCode.InvalidConfig, `${field}: ${message}`);
    this.name = 'ConfigError';
    this.field = field;
  }
}
