import { ConfigError } from '@vigil/protocol';
import { Backoff } from '../src/backoff.js';

describe('Backoff', () => {
  it('defaults to 100 ms doubling up to 5000 ms', () => {
    const b = new Backoff({ random: () => 0.5 });
    expect([b.initialMs, b.maxMs]).toStrictEqual([100, 5000]);
    const ceilings: number[] = [];
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) {
      ceilings.push(b.ceiling());
      delays.push(b.next());
    }
    expect(ceilings).toStrictEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    expect(delays).toStrictEqual([50, 100, 200, 400, 800, 1600, 2500, 2500, 2500]);
    expect(b.attempts).toBe(9);
  });

  it('draws full jitter: floor(random × ceiling), from 0 to just under the ceiling', () => {
    const values = [0, 0.999, 0.25];
    const b = new Backoff({ initialMs: 1000, maxMs: 8000, random: () => values.shift()! });
    expect([b.next(), b.next(), b.next()]).toStrictEqual([0, 1998, 1000]);
  });

  it('resets to the first ceiling', () => {
    const b = new Backoff({ initialMs: 10, maxMs: 1000, random: () => 0.999 });
    b.next();
    b.next();
    expect(b.ceiling()).toBe(40);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.ceiling()).toBe(10);
    expect(b.next()).toBe(9);
  });

  it('caps the exponent so ceilings stay finite after many attempts', () => {
    const b = new Backoff({ initialMs: 1, maxMs: Number.MAX_SAFE_INTEGER, random: () => 0 });
    for (let i = 0; i < 100; i++) b.next();
    expect(b.ceiling()).toBe(2 ** 30);
  });

  it('refuses a non-positive initialMs and a maxMs below it', () => {
    expect(() => new Backoff({ initialMs: 0 })).toThrow(ConfigError);
    expect(() => new Backoff({ initialMs: 0 })).toThrow('backoff.initialMs: must be positive, got 0');
    expect(() => new Backoff({ initialMs: Number.NaN })).toThrow('backoff.initialMs: must be positive, got NaN');
    expect(() => new Backoff({ initialMs: 200, maxMs: 100 })).toThrow('backoff.maxMs: must be at least initialMs (200), got 100');
    expect(new Backoff({ initialMs: 200, maxMs: 200 }).ceiling()).toBe(200);
  });
});
