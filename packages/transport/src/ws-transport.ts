/**
 * The WebSocket transport over `ws`: one binary message per payload. A text message
 * or an oversize message errors the frame stream with a typed ProtocolError; `close`
 * sends the Vigil close code in the close frame and terminates after a linger. Its
 * listeners are functions shared by every transport (no closures per connection).
 */
import { CloseCode, ErrorCode, ProtocolError } from '@vigil/protocol';
import type { Cause, Transport } from '@vigil/core';
import WebSocket from 'ws';
import type { Socket } from 'node:net';
import { TransportPort } from './internal/transport-port.js';
import { causeOfSocketError } from './socket-errors.js';
import { applyKernelOptions, type AppliedKernelOptions, type KernelSocketOptions } from './socket-options.js';

export interface WsTransportOptions {
  /** Remote address as `host:port`. */
  readonly remote: string;
  /** Ms to wait for the peer's close frame after ours before terminating. Default 2000. */
  readonly lingerMs?: number;
  /** The TCP socket under the WebSocket: `ws` swallows its errors, so the transport listens for the kernel's verdict here. */
  readonly socket?: Socket;
  /** Kernel options applied to `socket` in the constructor; it throws SocketOptionError unless `bestEffort`. */
  readonly kernel?: KernelSocketOptions;
  /** Receives best-effort warnings from applying `kernel`. */
  readonly onKernelWarning?: (message: string) => void;
}

/** A code a WebSocket close frame may carry (RFC 6455 §7.4); anything else becomes 1000. */
function closeFrameCode(code: number): number {
  const valid = (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
  return valid ? code : CloseCode.Normal;
}

/** Close-frame reasons are limited to 123 bytes of UTF-8. */
function closeFrameReason(reason: string): string {
  let out = reason;
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1);
  return out;
}

export class WsTransport extends TransportPort implements Transport {
  readonly kind = 'ws' as const;
  readonly remote: string;
  private readonly userTimeoutSet: boolean;
  private readonly lingerMs: number;
  /** What applying `options.kernel` achieved; null without kernel options. */
  readonly kernel: AppliedKernelOptions | null;

  constructor(
    /** The underlying WebSocket. */
    readonly ws: WebSocket,
    options: WsTransportOptions,
  ) {
    super();
    this.remote = options.remote;
    this.lingerMs = options.lingerMs ?? 2000;
    ws.binaryType = 'nodebuffer';
    const socket = options.socket;
    this.kernel = socket && options.kernel ? applyKernelOptions(socket, options.kernel, options.onKernelWarning) : null;
    this.userTimeoutSet = this.kernel?.userTimeoutSet ?? false;
    if (socket) {
      (socket as Owned<Socket>)[kTransport] = this;
      socket.on('error', onError);
    }
    (ws as Owned<WebSocket>)[kTransport] = this;
    ws.on('message', onMessage);
    ws.on('error', onWsError);
    // `on`, not `once`: 'close' comes once, and `once` costs a wrapper per connection.
    ws.on('close', onClose);
  }

  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  send(payload: Uint8Array): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(payload, { binary: true });
    return true;
  }

  close(code: number = CloseCode.Normal, reason = ''): void {
    if (this.localCause === null) this.localCause = 'local-close';
    const ws = this.ws;
    if (ws.readyState === WebSocket.CLOSED) return;
    ws.close(closeFrameCode(code), closeFrameReason(reason));
    const linger = setTimeout(() => ws.terminate(), this.lingerMs);
    linger.unref();
    ws.once('close', () => clearTimeout(linger));
  }

  destroy(cause: Cause = 'local-close', error?: Error): void {
    if (this.localCause === null) this.localCause = cause;
    if (error) this.error ??= error;
    this.ws.terminate();
  }

  /** @internal */
  onMessage(data: Buffer, isBinary: boolean): void {
    if (!isBinary) {
      this.failFrames(new ProtocolError(ErrorCode.UnexpectedMessage, 'text message on a Vigil WebSocket; only binary messages are allowed'));
      return;
    }
    this.deliver(data);
  }

  /** @internal */
  onWsError(error: Error & { code?: string }): void {
    this.error ??= error;
    if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
      this.failFrames(new ProtocolError(ErrorCode.FrameTooLarge, error.message, CloseCode.FrameTooLarge, { cause: error }));
    }
  }

  /** @internal */
  onClose(): void {
    const error = this.error;
    if (this.localCause !== null) this.finish({ cause: this.localCause });
    else if (error?.code?.startsWith('WS_ERR_')) this.finish({ cause: 'protocol-error', error });
    else this.finish({ cause: causeOfSocketError(error, this.userTimeoutSet), ...(error ? { error } : {}) });
  }
}

const kTransport = Symbol('vigil.wsTransport');
type Owned<T> = T & { [kTransport]: WsTransport };

// Listeners shared by every WebSocket transport: the emitter (socket or WebSocket) is `this`.
function onError(this: Socket | WebSocket, error: Error): void {
  const transport = (this as Owned<Socket>)[kTransport];
  transport.error ??= error;
}

function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  (this as Owned<WebSocket>)[kTransport].onMessage(data, isBinary);
}

function onWsError(this: WebSocket, error: Error & { code?: string }): void {
  (this as Owned<WebSocket>)[kTransport].onWsError(error);
}

function onClose(this: WebSocket): void {
  (this as Owned<WebSocket>)[kTransport].onClose();
}
