/**
 * `TransportPort`, the inbound side both transports share, fed by hand (no socket): a
 * `listen`ed sink gets every frame, the error and the end (the end in a microtask, as
 * `closed` resolves); `frames` and `closed`, created only when asked for, keep the
 * Observable and promise contract, including for late askers.
 */
import type { TransportEnd } from '@vigil/core';
import { TransportPort, type TransportSink } from '../src/internal/transport-port.js';

class HandFed extends TransportPort {
  push(payload: Uint8Array): void {
    this.deliver(payload);
  }
  fail(error: unknown): void {
    this.failFrames(error);
  }
  endWith(end: TransportEnd): void {
    this.finish(end);
  }
}

function recorder(): TransportSink & { seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    frame: (p) => seen.push(`frame ${p.join(',')}`),
    frameError: (e) => seen.push(`error ${(e as Error).message}`),
    transportEnded: (end) => seen.push(`ended ${end.cause}`),
  };
}

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

describe('TransportPort', () => {
  it('gives the sink every frame in order, then the end in a microtask', async () => {
    const port = new HandFed();
    const sink = recorder();
    port.listen(sink);
    port.push(bytes(1));
    port.push(bytes(2, 3));
    port.endWith({ cause: 'closed-by-peer' });
    port.push(bytes(4));
    expect(sink.seen).toEqual(['frame 1', 'frame 2,3']);
    await Promise.resolve();
    expect(sink.seen).toEqual(['frame 1', 'frame 2,3', 'ended closed-by-peer']);
  });

  it('gives the sink the frame error once, and nothing more after it', async () => {
    const port = new HandFed();
    const sink = recorder();
    port.listen(sink);
    port.fail(new Error('bad frame'));
    port.fail(new Error('again'));
    port.endWith({ cause: 'local-close' });
    await Promise.resolve();
    expect(sink.seen).toEqual(['error bad frame', 'ended local-close']);
  });

  it('tells a sink that comes after the failure and the end at once (the end in a microtask)', async () => {
    const port = new HandFed();
    port.fail(new Error('bad frame'));
    port.endWith({ cause: 'protocol-error' });
    const sink = recorder();
    port.listen(sink);
    expect(sink.seen).toEqual(['error bad frame']);
    await Promise.resolve();
    expect(sink.seen).toEqual(['error bad frame', 'ended protocol-error']);
  });

  it('takes one sink only', () => {
    const port = new HandFed();
    port.listen(recorder());
    expect(() => port.listen(recorder())).toThrow('a sink is already listening');
  });

  it('delivers to frames subscribers alongside the sink, and completes them at the end', () => {
    const port = new HandFed();
    const sink = recorder();
    port.listen(sink);
    const seen: string[] = [];
    port.frames.subscribe({ next: (p) => seen.push(`next ${p.join(',')}`), complete: () => seen.push('complete') });
    port.push(bytes(7));
    port.endWith({ cause: 'reset' });
    expect(seen).toEqual(['next 7', 'complete']);
    expect(sink.seen).toEqual(['frame 7']);
  });

  it('gives a late frames subscriber the error or the completion', () => {
    const failed = new HandFed();
    failed.fail(new Error('bad frame'));
    const errors: string[] = [];
    failed.frames.subscribe({ error: (e: Error) => errors.push(e.message) });
    expect(errors).toEqual(['bad frame']);

    const ended = new HandFed();
    ended.endWith({ cause: 'reset' });
    let completed = 0;
    ended.frames.subscribe({ complete: () => completed++ });
    expect(completed).toBe(1);
  });

  it('resolves closed once with the end, whether asked before or after it', async () => {
    const early = new HandFed();
    const asked = early.closed;
    early.endWith({ cause: 'heartbeat-timeout' });
    early.endWith({ cause: 'reset' });
    await expect(asked).resolves.toEqual({ cause: 'heartbeat-timeout' });
    expect(early.closed).toBe(asked);

    const late = new HandFed();
    late.endWith({ cause: 'reset' });
    await expect(late.closed).resolves.toEqual({ cause: 'reset' });
  });
});
