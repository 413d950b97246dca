/** `Match` on a virtual clock: seats, removal and rejoin within grace, timestamped inputs. */
import { Match } from '../src/match.js';
import { parseClientMessage } from '../src/game-protocol.js';

const at = (x: number, y: number): (() => number) => {
  const values = [x, y];
  return () => values.shift() ?? 0;
};

describe('Match', () => {
  it('seats players in the lowest free seat, and refuses when full', () => {
    const m = new Match({ seats: 2, random: () => 0.5 });
    expect(m.join('a', 0)).toEqual({ seat: 0, rejoined: false });
    expect(m.join('b', 0)).toEqual({ seat: 1, rejoined: false });
    expect(m.join('a', 0)).toEqual({ seat: 0, rejoined: false });
    expect(m.join('c', 0)).toBeNull();
    expect(m.size).toBe(2);
  });

  it('a removed player keeps its seat and position for the grace window, and gets them back', () => {
    const m = new Match({ seats: 3, graceMs: 1000, random: at(0.25, 0.5) });
    m.join('a', 0);
    expect(m.remove('a', 100)).toBe(true);
    expect(m.player('a')).toBeUndefined();
    expect(m.reservation('a')).toBe(0);
    // Another player may not take the held seat.
    expect(m.join('b', 500)).toEqual({ seat: 1, rejoined: false });
    expect(m.join('a', 1099)).toEqual({ seat: 0, rejoined: true });
    expect(m.player('a')).toMatchObject({ seat: 0, x: 400, y: 500 });
  });

  it('after the grace window the seat is free for anyone, and the old player starts afresh', () => {
    const m = new Match({ seats: 2, graceMs: 1000, random: () => 0 });
    m.join('a', 0);
    m.remove('a', 0);
    m.step(50, 1000);
    expect(m.reservation('a')).toBeUndefined();
    expect(m.join('b', 1000)).toEqual({ seat: 0, rejoined: false });
    expect(m.join('a', 1000)).toEqual({ seat: 1, rejoined: false });
  });

  it('steps players by their direction and keeps them in the world', () => {
    const m = new Match({ speed: 100, world: { width: 100, height: 100 }, random: () => 0.5 });
    m.join('a', 0);
    m.input('a', 1, 1, -1, 0, 0);
    m.step(100, 100);
    expect(m.player('a')).toMatchObject({ x: 60, y: 40 });
    m.step(1000, 1100);
    expect(m.player('a')).toMatchObject({ x: 100, y: 0 });
    expect(m.tick).toBe(2);
  });

  it('a late input counts from when it was made (up to maxRewindMs); stale seqs are ignored', () => {
    const m = new Match({ speed: 100, maxRewindMs: 250, random: () => 0.5 });
    m.join('a', 0);
    const x0 = m.player('a')!.x;
    // Made at 1000 on the server clock, arrived at 1040: 40 ms of movement already due.
    expect(m.input('a', 1, 1, 0, 1000, 1040)).toBe(true);
    expect(m.player('a')).toMatchObject({ x: x0 + 4, inputDelayMs: 40 });
    expect(m.input('a', 1, -1, 0, 1000, 1040)).toBe(false);
    // Stopping 1 s late rewinds only 250 ms.
    expect(m.input('a', 2, 0, 0, 2000, 3000)).toBe(true);
    expect(m.player('a')).toMatchObject({ x: x0 + 4 - 25, dx: 0 });
    // From the future (a bad offset): applied as of now.
    expect(m.input('a', 3, 1, 0, 5000, 4000)).toBe(true);
    expect(m.player('a')!.x).toBe(x0 - 21);
  });
});

describe('parseClientMessage', () => {
  it('accepts inputs and rejects anything else', () => {
    expect(parseClientMessage({ t: 'input', seq: 1, dx: -1, dy: 0, at: 12.5 })).toEqual({ t: 'input', seq: 1, dx: -1, dy: 0, at: 12.5 });
    for (const bad of [null, 'x', {}, { t: 'input', seq: -1, dx: 0, dy: 0, at: 0 }, { t: 'input', seq: 1, dx: 2, dy: 0, at: 0 }, { t: 'input', seq: 1, dx: 0, dy: 0, at: Number.NaN }, { t: 'chat' }]) {
      expect(parseClientMessage(bad)).toBeNull();
    }
  });
});
