import { seededRandom } from '../src/seeded-random.js';

describe('seededRandom', () => {
  it('replays the same sequence for a seed, a different one for another, always in [0, 1)', () => {
    const take = (seed: number): number[] => Array.from({ length: 1000 }, seededRandom(seed));
    const a = take(42);
    expect(take(42)).toEqual(a);
    expect(take(43)).not.toEqual(a);
    expect(a.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(a).size).toBe(a.length);
  });
});
