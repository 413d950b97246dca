/**
 * The browser transport: the core `Transport` port over the platform's native
 * WebSocket (`globalThis.WebSocket`, `binaryType = 'arraybuffer'`), one binary message
 * per payload, offering `vigil.v1`. Also records the wall-clock time of the last
 * inbound message, so a client that wakes from sleep can judge its deadlines.
 */
import type { Cause, Transport, TransportEnd } from '@vigil/core';
import { CloseCode, ErrorCode, ProtocolError, WS_SUBPROTOCOL } from '@vigil/protocol';
import { Subject, type Observable } from 'rxjs';
import type { TransportDialOptions, TransportFactory } from './node-transports.js';

/** `WebSocket.readyState` values (WHATWG HTML §9.3). */
const OPEN = 1;
const CLOSED = 3;

/** The events of a native WebSocket this transport reads; `ws`'s WebSocket has the same shape. */
export interface SocketEventMap {
  open: unknown;
  message: { readonly data: unknown };
  close: { readonly code: number; readonly reason: string; readonly wasClean: boolean };
  error: unknown;
}

/** The part of the WHATWG `WebSocket` interface the transport uses. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  /** The subprotocol the server selected ('' for none). */
  readonly protocol: string;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener<K extends keyof SocketEventMap>(type: K, listener: (event: SocketEventMap[K]) => void): void;
  removeEventListener<K extends keyof SocketEventMap>(type: K, listener: (event: SocketEventMap[K]) => void): void;
}

/** A `WebSocket` constructor: the browser's own, or any with the same shape. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface BrowserTransportOptions {
  /** Remote address as `host:port`. */
  readonly remote: string;
  /** Largest accepted message, bytes; a larger one errors the frame stream with `1009`. Default 1 MiB. */
  readonly maxFrameBytes?: number;
  /** Ms to wait for the server's close frame after ours before giving up on it. Default 1000. */
  readonly lingerMs?: number;
  /** Wall clock (ms since epoch) for `lastReceivedAt`. Default `Date.now`. */
  readonly wallClock?: () => number;
}

/**
 * Script may only put 1000 or 3000–4999 in a close frame (WHATWG `close()` throws on
 * anything else), so Vigil's 1xxx codes other than 1000 go out as 1000; the Vigil
 * `close` message sent before carries the real code.
 */
export function browserCloseCode(code: number): number {
  return code === CloseCode.Normal || (code >= 3000 && code <= 4999) ? code : CloseCode.Normal;
}

const encoder = new TextEncoder();

/** Close-frame reasons are limited to 123 bytes of UTF-8 (RFC 6455 §5.5). */
export function browserCloseReason(reason: string): string {
  let out = reason;
  while (encoder.encode(out).length > 123) out = out.slice(0, -1);
  return out;
}

export class BrowserWsTransport implements Transport {
  readonly kind = 'ws' as const;
  readonly remote: string;
  readonly frames: Observable<Uint8Array>;
  readonly closed: Promise<TransportEnd>;
  /** Wall-clock time (ms since epoch) of the last inbound message, or of opening. */
  lastReceivedAt: number;
  private readonly subject = new Subject<Uint8Array>();
  private readonly maxFrameBytes: number;
  private readonly wallClock: () => number;
  private localCause: Cause | null = null;
  private settle: ((end: TransportEnd) => void) | null = null;
  private linger: ReturnType<typeof setTimeout> | null = null;

  constructor(
    /** The underlying WebSocket, already open. */
    readonly ws: WebSocketLike,
    private readonly options: BrowserTransportOptions,
  ) {
    this.remote = options.remote;
    this.maxFrameBytes = options.maxFrameBytes ?? 1024 * 1024;
    this.wallClock = options.wallClock ?? (() => Date.now());
    this.lastReceivedAt = this.wallClock();
    this.frames = this.subject.asObservable();
    ws.binaryType = 'arraybuffer';
    this.closed = new Promise((resolve) => {
      this.settle = resolve;
    });
    ws.addEventListener('message', this.onMessage);
    ws.addEventListener('close', this.onClose);
  }

  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  send(payload: Uint8Array): boolean {
    if (this.settle === null || this.localCause !== null || this.ws.readyState !== OPEN) return false;
    this.ws.send(payload);
    return true;
  }

  close(code: number = CloseCode.Normal, reason = ''): void {
    if (this.settle === null || this.localCause !== null) return;
    this.localCause = 'local-close';
    if (this.ws.readyState === CLOSED) {
      this.end({ cause: 'local-close' });
      return;
    }
    this.ws.close(browserCloseCode(code), browserCloseReason(reason));
    // A browser has no terminate(): if the server never answers our close frame, stop waiting for it.
    this.linger = setTimeout(() => this.end({ cause: 'local-close' }), this.options.lingerMs ?? 1000);
  }

  /** Ends at once. Script cannot abort a WebSocket, so the close handshake runs on unobserved. */
  destroy(cause: Cause = 'local-close', error?: Error): void {
    if (this.settle === null) return;
    this.localCause ??= cause;
    if (this.ws.readyState !== CLOSED) this.ws.close();
    this.end({ cause: this.localCause, ...(error ? { error } : {}) });
  }

  private readonly onMessage = (event: SocketEventMap['message']): void => {
    if (this.settle === null) return;
    this.lastReceivedAt = this.wallClock();
    const data = event.data;
    if (!(data instanceof ArrayBuffer)) {
      const what = typeof data === 'string' ? 'text message' : 'message that is not an ArrayBuffer';
      this.subject.error(new ProtocolError(ErrorCode.UnexpectedMessage, `${what} on a Vigil WebSocket; only binary messages are allowed`));
      return;
    }
    // The browser has buffered it already; the limit still keeps it from the decoder.
    if (data.byteLength > this.maxFrameBytes) {
      this.subject.error(new ProtocolError(ErrorCode.FrameTooLarge, `message of ${data.byteLength} bytes exceeds ${this.maxFrameBytes}`, CloseCode.FrameTooLarge));
      return;
    }
    this.subject.next(new Uint8Array(data));
  };

  private readonly onClose = (event: SocketEventMap['close']): void => {
    // 1006: the connection dropped without a close frame (no FIN handshake, a reset, a dead network).
    this.end({ cause: this.localCause ?? (event.code === 1006 ? 'reset' : 'closed-by-peer') });
  };

  private end(end: TransportEnd): void {
    const settle = this.settle;
    if (settle === null) return;
    this.settle = null;
    if (this.linger !== null) clearTimeout(this.linger);
    this.ws.removeEventListener('message', this.onMessage);
    this.ws.removeEventListener('close', this.onClose);
    this.subject.complete();
    settle(end);
  }
}

/** The platform's WebSocket, if it has one. */
function nativeWebSocket(): WebSocketConstructor | undefined {
  return (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
}

/**
 * A factory dialling `ws://` and `wss://` URLs over `webSocket` (default: the native
 * `globalThis.WebSocket`), offering `vigil.v1` and failing if the server does not select it.
 * Kernel socket options cannot be set from a page; the client refuses them up front.
 */
export function browserTransportFactory(webSocket: WebSocketConstructor | undefined = nativeWebSocket()): TransportFactory {
  return (url: URL, options: TransportDialOptions) =>
    new Promise<BrowserWsTransport>((resolve, reject) => {
      if (webSocket === undefined) {
        reject(new Error('no WebSocket in this environment'));
        return;
      }
      let ws: WebSocketLike;
      try {
        ws = new webSocket(url.href, WS_SUBPROTOCOL);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      ws.binaryType = 'arraybuffer';
      const done = (): void => {
        clearTimeout(timer);
        ws.removeEventListener('open', onOpen);
        ws.removeEventListener('close', onFail);
        ws.removeEventListener('error', onFail);
      };
      const fail = (error: Error): void => {
        done();
        if (ws.readyState !== CLOSED) ws.close();
        reject(error);
      };
      const onOpen = (): void => {
        if (ws.protocol !== WS_SUBPROTOCOL) {
          fail(new Error(`server did not select the ${WS_SUBPROTOCOL} subprotocol (got "${ws.protocol}")`));
          return;
        }
        done();
        resolve(new BrowserWsTransport(ws, { remote: url.host, maxFrameBytes: options.maxFrameBytes, lingerMs: options.lingerMs }));
      };
      // The browser hides why a WebSocket failed (no errno); its console has the details.
      const onFail = (): void => fail(new Error(`WebSocket to ${url.host} failed`));
      const timer = setTimeout(() => fail(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })), options.connectTimeoutMs);
      ws.addEventListener('open', onOpen);
      ws.addEventListener('close', onFail);
      ws.addEventListener('error', onFail);
    });
}
