/**
 * `FrameStream`, the transports' inbound stream: the same contract as the `Subject` it
 * replaces, fed by hand (no socket): in order to every open subscriber, nothing after
 * unsubscribe, and the end (complete or error) to subscribers that come late.
 */
import { FrameStream } from '../src/internal/frame-stream.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

describe('FrameStream', () => {
  it('delivers payloads in order to its subscriber, then completes', () => {
    const stream = new FrameStream();
    const seen: string[] = [];
    stream.subscribe({ next: (p) => seen.push(`next ${p.join(',')}`), complete: () => seen.push('complete') });
    stream.next(bytes(1));
    stream.next(bytes(2, 3));
    stream.complete();
    stream.next(bytes(4));
    expect(seen).toEqual(['next 1', 'next 2,3', 'complete']);
  });

  it('delivers to several subscribers, and nothing more to one that unsubscribed', () => {
    const stream = new FrameStream();
    const a: number[] = [];
    const b: number[] = [];
    const sa = stream.subscribe((p) => a.push(p[0]!));
    stream.subscribe((p) => b.push(p[0]!));
    stream.next(bytes(1));
    sa.unsubscribe();
    stream.next(bytes(2));
    // A third subscriber after one left: the closed one is dropped, the others stay.
    const c: number[] = [];
    stream.subscribe((p) => c.push(p[0]!));
    stream.next(bytes(3));
    expect([a, b, c]).toEqual([[1], [1, 2, 3], [3]]);
  });

  it('errors every open subscriber once, and a late subscriber at once', () => {
    const stream = new FrameStream();
    const errors: unknown[] = [];
    stream.subscribe({ error: (e: unknown) => errors.push(e) });
    const boom = new Error('boom');
    stream.error(boom);
    stream.error(new Error('again'));
    stream.complete();
    stream.subscribe({ error: (e: unknown) => errors.push(e) });
    expect(errors).toEqual([boom, boom]);
  });

  it('completes a late subscriber at once', () => {
    const stream = new FrameStream();
    stream.complete();
    let completed = false;
    stream.subscribe({ complete: () => (completed = true) });
    expect(completed).toBe(true);
  });

  it('works through operators (a lifted observable subscribes to it)', () => {
    const stream = new FrameStream();
    const lengths: number[] = [];
    stream.pipe().subscribe((p) => lengths.push(p.length));
    stream.next(bytes(1, 2, 3));
    expect(lengths).toEqual([3]);
  });
});
