/**
 * What the TCP and WebSocket transports share on their inbound side: frames delivered to
 * a plain sink (`listen`, what the core's `Connection` uses: no Subscriber chain, no
 * closures) and, for anyone else, the `frames` Observable and the `closed` promise of the
 * `Transport` port, both created only when first asked for (most connections never are).
 */
import type { Cause, TransportEnd } from '@vigil/core';
import type { Observable } from 'rxjs';
import { FrameStream } from './frame-stream.js';

/** A plain receiver of a transport's inbound side, for `listen`. It is never detached: it ignores what comes after it is done. */
export interface TransportSink {
  /** One complete inbound payload. */
  frame(payload: Uint8Array): void;
  /** The inbound stream failed (a protocol violation); no more frames come. */
  frameError(error: unknown): void;
  /** The transport ended; called once, in a microtask after the end (as `closed` would resolve). */
  transportEnded(end: TransportEnd): void;
}

export abstract class TransportPort {
  /** @internal What ended the transport from this side, if this side did. */
  localCause: Cause | null = null;
  /** @internal The first socket error seen. */
  error: (Error & { code?: string }) | undefined = undefined;
  private sink: TransportSink | null = null;
  private stream: FrameStream | null = null;
  /** The inbound failure, once there was one (`{ error }`), else null. */
  private failure: { readonly error: unknown } | null = null;
  private end: TransportEnd | null = null;
  private endPromise: Promise<TransportEnd> | null = null;
  private resolveEnd: ((end: TransportEnd) => void) | null = null;

  /**
   * Complete inbound payloads, in order; completes when the transport ends. Hot: payloads
   * that came before the first subscriber are not replayed, an error or the end is.
   */
  get frames(): Observable<Uint8Array> {
    let stream = this.stream;
    if (stream === null) {
      stream = this.stream = new FrameStream();
      if (this.failure !== null) stream.error(this.failure.error);
      else if (this.end !== null) stream.complete();
    }
    return stream;
  }

  /** Resolves once, when the transport has ended for any reason. Never rejects. */
  get closed(): Promise<TransportEnd> {
    if (this.endPromise === null) {
      const end = this.end;
      this.endPromise = end !== null ? Promise.resolve(end) : new Promise((resolve) => (this.resolveEnd = resolve));
    }
    return this.endPromise;
  }

  /**
   * Takes `sink` as the plain receiver of frames, a frame error and the end (one sink at
   * most; subscribers of `frames` still get everything too). On a transport that already
   * failed or ended, the sink hears of it at once (the end in a microtask).
   */
  listen(sink: TransportSink): void {
    if (this.sink !== null) throw new Error('a sink is already listening to this transport');
    this.sink = sink;
    if (this.failure !== null) sink.frameError(this.failure.error);
    const end = this.end;
    if (end !== null) queueMicrotask(() => sink.transportEnded(end));
  }

  /** Hands one inbound payload to the sink and the subscribers (none after a failure or the end). */
  protected deliver(payload: Uint8Array): void {
    if (this.failure !== null || this.end !== null) return;
    this.sink?.frame(payload);
    this.stream?.next(payload);
  }

  /** The inbound stream failed: no more frames. */
  protected failFrames(error: unknown): void {
    if (this.failure !== null || this.end !== null) return;
    this.failure = { error };
    this.sink?.frameError(error);
    this.stream?.error(error);
  }

  /** The transport ended: completes `frames`, resolves `closed`, tells the sink. */
  protected finish(end: TransportEnd): void {
    if (this.end !== null) return;
    this.end = end;
    this.stream?.complete();
    const resolve = this.resolveEnd;
    this.resolveEnd = null;
    resolve?.(end);
    const sink = this.sink;
    if (sink !== null) queueMicrotask(() => sink.transportEnded(end));
  }
}
