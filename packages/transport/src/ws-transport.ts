/**
 * The WebSocket transport over `ws`: one binary message per payload. A text message
 * or an oversize message errors the frame stream with a typed ProtocolError; `close`
 * sends the Vigil close code in the close frame and terminates after a linger.
 */
import { CloseCode, ErrorCode, ProtocolError } from '@vigil/protocol';
import type { Cause, Transport, TransportEnd } from '@vigil/core';
import type { Observable } from 'rxjs';
import WebSocket from 'ws';
import type { Socket } from 'node:net';
import { FrameStream } from './internal/frame-stream.js';
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

export class WsTransport implements Transport {
  readonly kind = 'ws' as const;
  readonly remote: string;
  readonly frames: Observable<Uint8Array>;
  readonly closed: Promise<TransportEnd>;
  private readonly subject = new FrameStream();
  private localCause: Cause | null = null;
  private error: (Error & { code?: string }) | undefined;
  /** What applying `options.kernel` achieved; null without kernel options. */
  readonly kernel: AppliedKernelOptions | null;

  constructor(
    /** The underlying WebSocket. */
    readonly ws: WebSocket,
    private readonly options: WsTransportOptions,
  ) {
    this.remote = options.remote;
    this.frames = this.subject;
    ws.binaryType = 'nodebuffer';
    const socket = options.socket;
    this.kernel = socket && options.kernel ? applyKernelOptions(socket, options.kernel, options.onKernelWarning) : null;
    const userTimeoutSet = this.kernel?.userTimeoutSet ?? false;
    socket?.on('error', (error: Error) => {
      this.error ??= error;
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        this.subject.error(new ProtocolError(ErrorCode.UnexpectedMessage, 'text message on a Vigil WebSocket; only binary messages are allowed'));
        return;
      }
      this.subject.next(data);
    });
    ws.on('error', (error: Error & { code?: string }) => {
      this.error ??= error;
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.subject.error(new ProtocolError(ErrorCode.FrameTooLarge, error.message, CloseCode.FrameTooLarge, { cause: error }));
      }
    });
    this.closed = new Promise((resolve) => {
      // `on`, not `once`: 'close' comes once, and `once` costs a wrapper per connection.
      ws.on('close', () => {
        this.subject.complete();
        if (this.localCause !== null) resolve({ cause: this.localCause });
        else if (this.error?.code?.startsWith('WS_ERR_')) resolve({ cause: 'protocol-error', error: this.error });
        else resolve({ cause: causeOfSocketError(this.error, userTimeoutSet), ...(this.error ? { error: this.error } : {}) });
      });
    });
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
    const linger = setTimeout(() => ws.terminate(), this.options.lingerMs ?? 2000);
    linger.unref();
    ws.once('close', () => clearTimeout(linger));
  }

  destroy(cause: Cause = 'local-close', error?: Error): void {
    if (this.localCause === null) this.localCause = cause;
    if (error) this.error ??= error;
    this.ws.terminate();
  }
}
