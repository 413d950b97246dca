/**
 * An in-memory `Transport` for connection tests: inbound frames through a Subject,
 * every sent payload recorded (and decodable), and a `closed` promise the test or
 * the connection resolves through `end`, `close` or `destroy`.
 */
import { decodeMessage, encodeMessage, type Message } from '@vigil/protocol';
import { Subject } from 'rxjs';
import type { Cause } from '../src/peer-state.js';
import type { Transport, TransportEnd } from '../src/transport.js';

export class FakeTransport implements Transport {
  readonly kind = 'tcp' as const;
  readonly remote = '127.0.0.1:4242';
  readonly inbound = new Subject<Uint8Array>();
  readonly frames = this.inbound.asObservable();
  readonly closed: Promise<TransportEnd>;
  readonly bufferedBytes = 0;
  /** Every payload handed to `send`, in order. */
  readonly sent: Uint8Array[] = [];
  readonly closeCalls: [number | undefined, string | undefined][] = [];
  readonly destroyCalls: (Cause | undefined)[] = [];
  private resolve!: (end: TransportEnd) => void;
  private done = false;

  constructor() {
    this.closed = new Promise((resolve) => (this.resolve = resolve));
  }

  get ended(): boolean {
    return this.done;
  }

  /** The sent payloads, decoded. */
  get sentMessages(): Message[] {
    return this.sent.map((p) => decodeMessage(p));
  }

  send(payload: Uint8Array): boolean {
    if (this.done) return false;
    this.sent.push(payload);
    return true;
  }

  close(code?: number, reason?: string): void {
    this.closeCalls.push([code, reason]);
    this.end({ cause: 'local-close' });
  }

  destroy(cause?: Cause, error?: Error): void {
    this.destroyCalls.push(cause);
    this.end({ cause: cause ?? 'local-close', ...(error === undefined ? {} : { error }) });
  }

  /** The transport ends (as the socket saw it): frames complete, `closed` resolves. */
  end(end: TransportEnd): void {
    if (this.done) return;
    this.done = true;
    this.inbound.complete();
    this.resolve(end);
  }

  /** Delivers one message from the peer. */
  deliver(message: Message): void {
    this.inbound.next(encodeMessage(message));
  }

  /** Delivers raw payload bytes from the peer. */
  deliverBytes(payload: Uint8Array): void {
    this.inbound.next(payload);
  }
}
