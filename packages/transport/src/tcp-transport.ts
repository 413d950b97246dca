/**
 * The TCP transport: length-prefixed frames over a `net.Socket`. Decodes with the
 * protocol's streaming decoder (a violation errors the frame stream with a typed
 * ProtocolError), writes each payload with its header in one buffer, half-closes on
 * `close()` and destroys after a linger if the peer never closes its side. Its socket
 * listeners are functions shared by every transport (no closures per connection).
 */
import type { Socket } from 'node:net';
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, FrameDecoder } from '@vigil/protocol';
import type { Cause, Transport } from '@vigil/core';
import { TransportPort } from './internal/transport-port.js';
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

export class TcpTransport extends TransportPort implements Transport {
  readonly kind = 'tcp' as const;
  readonly remote: string;
  private readonly decoder: FrameDecoder;
  private readonly lingerMs: number;
  private readonly userTimeoutSet: boolean;
  /** What applying `options.kernel` achieved; null without kernel options. */
  readonly kernel: AppliedKernelOptions | null;

  constructor(
    /** The underlying socket (for kernel options and inspection). */
    readonly socket: Socket,
    options: TcpTransportOptions = {},
  ) {
    super();
    this.lingerMs = options.lingerMs ?? 2000;
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    this.decoder = new FrameDecoder(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    socket.setNoDelay(true);
    // After Node's own setNoDelay: kernel options must be the last word on the socket.
    this.kernel = options.kernel ? applyKernelOptions(socket, options.kernel, options.onKernelWarning) : null;
    this.userTimeoutSet = options.userTimeoutSet ?? this.kernel?.userTimeoutSet ?? false;
    (socket as OwnedSocket)[kTransport] = this;
    socket.on('data', onSocketData);
    socket.on('error', onSocketError);
    // `on`, not `once`: 'close' comes once, and `once` costs a wrapper per socket.
    socket.on('close', onSocketClose);
  }

  /** Room `sendFramed` needs before a payload: the frame header. */
  get frameHeadroom(): number {
    return FRAME_HEADER_BYTES;
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

  /**
   * Sends a payload that starts `FRAME_HEADER_BYTES` into `frame` (the room an encoder left
   * with its `headroom`): the header is written in place and the buffer sent without a copy.
   * The transport keeps `frame`. Returns false when the transport has stopped accepting.
   */
  sendFramed(frame: Uint8Array): boolean {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return false;
    const length = frame.length - FRAME_HEADER_BYTES;
    frame[0] = length >>> 24;
    frame[1] = (length >>> 16) & 0xff;
    frame[2] = (length >>> 8) & 0xff;
    frame[3] = length & 0xff;
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

  /** @internal */
  onData(chunk: Buffer): void {
    // A pong arrives as one whole frame in one chunk: no payload array for it.
    const one = this.decoder.whole(chunk);
    if (one !== null) {
      this.deliver(one);
      return;
    }
    let payloads: Uint8Array[];
    try {
      payloads = this.decoder.push(chunk);
    } catch (error) {
      this.socket.pause();
      this.failFrames(error);
      return;
    }
    for (let i = 0; i < payloads.length; i++) this.deliver(payloads[i]!);
  }

  /** @internal */
  onClose(): void {
    const error = this.error;
    this.finish(this.localCause !== null ? { cause: this.localCause } : { cause: causeOfSocketError(error, this.userTimeoutSet), ...(error ? { error } : {}) });
  }
}

const kTransport = Symbol('vigil.tcpTransport');
type OwnedSocket = Socket & { [kTransport]: TcpTransport };

// Listeners shared by every TCP transport: Node calls them with the socket as `this`.
function onSocketData(this: Socket, chunk: Buffer): void {
  (this as OwnedSocket)[kTransport].onData(chunk);
}

function onSocketError(this: Socket, error: Error): void {
  const transport = (this as OwnedSocket)[kTransport];
  transport.error ??= error;
}

function onSocketClose(this: Socket): void {
  (this as OwnedSocket)[kTransport].onClose();
}
