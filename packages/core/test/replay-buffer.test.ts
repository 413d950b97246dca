import { ConfigError } from '@vigil/protocol';
import { REPLAY_DEFAULTS, ReplayBuffer, resolveReplayLimits } from '../src/replay-buffer.js';

const bytes = (n: number): Uint8Array => new Uint8Array(n);

describe('ReplayBuffer', () => {
  it('holds payloads in seq order and replays what follows an ack', () => {
    const b = new ReplayBuffer({ maxMessages: 10, maxBytes: 1000 });
    for (let seq = 1; seq <= 5; seq++) b.push(seq, Uint8Array.of(seq));
    expect(b.size).toBe(5);
    expect(b.bytes).toBe(5);
    expect(b.after(2)).toEqual([Uint8Array.of(3), Uint8Array.of(4), Uint8Array.of(5)]);
    expect(b.after(5)).toEqual([]);
  });

  it('a cumulative ack releases everything up to it, once; a stale ack changes nothing', () => {
    const b = new ReplayBuffer({ maxMessages: 10, maxBytes: 1000 });
    for (let seq = 1; seq <= 5; seq++) b.push(seq, bytes(10));
    b.release(3);
    expect({ size: b.size, bytes: b.bytes, released: b.released }).toEqual({ size: 2, bytes: 20, released: 3 });
    b.release(2);
    expect({ size: b.size, released: b.released }).toEqual({ size: 2, released: 3 });
    b.release(5);
    expect({ size: b.size, bytes: b.bytes }).toEqual({ size: 0, bytes: 0 });
  });

  it('covers an ack only if nothing after it was released', () => {
    const b = new ReplayBuffer({ maxMessages: 10, maxBytes: 1000 });
    for (let seq = 1; seq <= 5; seq++) b.push(seq, bytes(1));
    b.release(3);
    expect(b.covers(2)).toBe(false);
    expect(b.covers(3)).toBe(true);
    expect(b.covers(5)).toBe(true);
  });

  it('fits checks both bounds', () => {
    const b = new ReplayBuffer({ maxMessages: 3, maxBytes: 100 });
    b.push(1, bytes(40));
    b.push(2, bytes(40));
    expect(b.fits(20)).toBe(true);
    expect(b.fits(21)).toBe(false);
    b.push(3, bytes(10));
    expect(b.fits(1)).toBe(false);
    b.release(1);
    expect(b.fits(50)).toBe(true);
  });

  it('stays compact over many push/release cycles (memory bounded by what is unacknowledged)', () => {
    const b = new ReplayBuffer({ maxMessages: 100, maxBytes: 1_000_000 });
    let seq = 0;
    for (let round = 0; round < 10_000; round++) {
      b.push(++seq, bytes(8));
      b.push(++seq, bytes(8));
      b.release(seq - 1);
    }
    expect(b.size).toBe(1);
    // The internal arrays were compacted: far fewer slots than 20,000 pushes.
    const slots = (b as unknown as { seqs: number[] }).seqs.length;
    expect(slots).toBeLessThan(200);
    expect(b.after(seq - 1)).toHaveLength(1);
  });

  it('clear forgets everything', () => {
    const b = new ReplayBuffer({ maxMessages: 10, maxBytes: 1000 });
    b.push(1, bytes(5));
    b.clear();
    expect({ size: b.size, bytes: b.bytes }).toEqual({ size: 0, bytes: 0 });
  });
});

describe('resolveReplayLimits', () => {
  it('fills the named defaults', () => {
    expect(resolveReplayLimits()).toEqual({ maxMessages: REPLAY_DEFAULTS.maxMessages, maxBytes: REPLAY_DEFAULTS.maxBytes });
    expect(REPLAY_DEFAULTS).toEqual({ maxMessages: 1024, maxBytes: 1024 * 1024 });
  });

  it.each([
    [{ maxMessages: 0 }, 'resume.maxMessages'],
    [{ maxMessages: 1.5 }, 'resume.maxMessages'],
    [{ maxBytes: -1 }, 'resume.maxBytes'],
  ])('%p is a ConfigError naming %s', (options, field) => {
    let error: unknown;
    try {
      resolveReplayLimits(options);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe(field);
  });
});
