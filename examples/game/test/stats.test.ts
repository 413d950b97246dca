/** Nearest-rank percentiles and the bounded `Sample`. */
import { Sample, percentiles } from '../src/stats.js';

describe('percentiles', () => {
  it('takes the nearest rank, in any input order; NaN when empty', () => {
    const values = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentiles(values, 50, 90, 99, 100, 0)).toEqual([5, 9, 10, 10, 1]);
    expect(percentiles([], 50)).toEqual([Number.NaN]);
  });
});

describe('Sample', () => {
  it('keeps the newest values up to its capacity, and counts and max over all', () => {
    const s = new Sample(3);
    for (const v of [100, 1, 2, 3, 4]) s.add(v);
    expect(s.count).toBe(5);
    expect(s.max).toBe(100);
    expect(s.percentiles(0, 100)).toEqual([2, 4]);
    s.reset();
    expect(s.count).toBe(0);
    expect(s.percentiles(50)).toEqual([Number.NaN]);
  });
});
