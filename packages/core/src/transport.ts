/**
 * The narrow port every transport implements (TCP, WebSocket, a browser WebSocket):
 * frames in as an Observable, `send`, `close`, `destroy`, and a closed signal.
 * The core never imports `net` or `ws`; transports live in their own package.
 */
import type { Observable } from 'rxjs';
import type { Cause } from './peer-state.js';

export type TransportKind = 'tcp' | 'ws';

/** How a transport ended, as the transport saw it. */
export interface TransportEnd {
  /** What ended it: `local-close` when this side closed it. */
  readonly cause: Cause;
  /** The underlying error, if any (its `code` is kept, e.g. `ECONNRESET`, `ETIMEDOUT`). */
  readonly error?: Error;
}

export interface Transport {
  readonly kind: TransportKind;
  /** Remote address as `host:port`. */
  readonly remote: string;
  /**
   * Complete inbound payloads (for TCP, without the length prefix), in order.
   * Hot: subscribe before any I/O turn passes. Completes when the transport ends.
   */
  readonly frames: Observable<Uint8Array>;
  /** Resolves once, when the transport has ended for any reason. Never rejects. */
  readonly closed: Promise<TransportEnd>;
  /** Bytes queued for sending and not yet handed to the kernel. */
  readonly bufferedBytes: number;
  /**
   * Queues one payload (framed as the transport requires).
   * Returns false when the transport has stopped accepting (ended or ending).
   */
  send(payload: Uint8Array): boolean;
  /**
   * Orderly close: flush what is queued, half-close, and wait up to `lingerMs`
   * for the peer to close its side before destroying. For WebSocket, `code` and
   * `reason` go in the close frame.
   */
  close(code?: number, reason?: string): void;
  /** Immediate teardown with the given cause; for a dead peer nothing graceful can hang. */
  destroy(cause?: Cause, error?: Error): void;
}
