/**
 * The TCP transport: length-prefixed frames over a `net.Socket`. Decodes with the
 * protocol's streaming decoder (a violation errors the frame stream with a typed
 * ProtocolError), writes each payload with its header in one buffer, half-closes on
 * `close()` and destroys after a linger if the peer never closes its side.
 */
import type { Socket } from 'node:net';
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, FrameDecoder } from '@vigil/protocol';
import type { Cause, Transport, TransportEnd } from '@vigil/core';
import type { Observable } from 'rxjs';
import { FrameStream } from './internal/frame-stream.js';
import { causeOfSocketError } from './socket-errors.js';
import { applyKernelOptions, type AppliedKernelOptions, type KernelSocketOptions } from './socket-options.js';

export interface TcpTransportOptions {
  /** Largest accepted payload, bytes. Default 1 MiB. */
  readonly maxFrameBytes?: number;
  /** Ms to wait for the peer's FIN after our half-close before destroying. Default 2000. */
  readonly lingerMs?: number;
  /** Whether TCP_USER_TIMEOUT is set on this socket (ETIMEDOUT then means user timeout). Default: as `kernel` left it. */
  readonly userTimeoutSet?: boolean;
  /** Kernel options applied (and verified) in the constructor; it throws SocketOptionError unless `bestEffort`. */
  readonly kernel?: KernelSocketOptions;
  /** Receives best-effort warnings from applying `kernel`. */
  readonly onKernelWarning?: (message: string) => void;
}

export class TcpTransport implements Transport {
  readonly kind = 'tcp' as const;
  readonly remote: string;
  readonly frames: Observable<Uint8Array>;
  readonly closed: Promise<TransportEnd>;
  private readonly subject = new FrameStream();
  private readonly decoder: FrameDecoder;
  private localCause: Cause | null = null;
  private error: (Error & { code?: string }) | undefined;
  private readonly lingerMs: number;
  /** What applying `options.kernel` achieved; null without kernel options. */
  readonly kernel: AppliedKernelOptions | null;

  constructor(
    /** The underlying socket (for kernel options and inspection). */
    readonly socket: Socket,
    options: TcpTransportOptions = {},
  ) {
    this.lingerMs = options.lingerMs ?? 2000;
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    this.decoder = new FrameDecoder(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    this.frames = this.subject;
    socket.setNoDelay(true);
    // After Node's own setNoDelay: kernel options must be the last word on the socket.
    this.kernel = options.kernel ? applyKernelOptions(socket, options.kernel, options.onKernelWarning) : null;
    const userTimeoutSet = options.userTimeoutSet ?? this.kernel?.userTimeoutSet ?? false;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error: Error) => {
      this.error ??= error;
    });
    this.closed = new Promise((resolve) => {
      // `on`, not `once`: 'close' comes once, and `once` costs a wrapper per socket.
      socket.on('close', () => {
        this.subject.complete();
        const end: TransportEnd =
          this.localCause !== null
            ? { cause: this.localCause }
            : { cause: causeOfSocketError(this.error, userTimeoutSet), ...(this.error ? { error: this.error } : {}) };
        resolve(end);
      });
    });
  }

  get bufferedBytes(): number {
    return this.socket.writableLength;
  }

  send(payload: Uint8Array): boolean {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return false;
    const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
    frame.writeUInt32BE(payload.length, 0);
    frame.set(payload, FRAME_HEADER_BYTES);
    socket.write(frame);
    return true;
  }

  close(): void {
    if (this.localCause === null) this.localCause = 'local-close';
    const socket = this.socket;
    if (socket.destroyed) return;
    socket.end();
    const linger = setTimeout(() => socket.destroy(), this.lingerMs);
    linger.unref();
    socket.once('close', () => clearTimeout(linger));
  }

  destroy(cause: Cause = 'local-close', error?: Error): void {
    if (this.localCause === null) this.localCause = cause;
    if (error) this.error ??= error;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    let payloads: Uint8Array[];
    try {
      payloads = this.decoder.push(chunk);
    } catch (error) {
      this.socket.pause();
      this.subject.error(error);
      return;
    }
    for (const p of payloads) this.subject.next(p);
  }
}
