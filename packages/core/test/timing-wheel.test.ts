import fc from 'fast-check';
import { TimingWheel } from '../src/timing-wheel.js';
import { VirtualClock } from './virtual-time.js';

/** A wheel on a fresh virtual clock, plus a log of every fire as [label, now]. */
function setup(tickMs: number, slotCount?: number, startAt = 0) {
  const clock = new VirtualClock();
  clock.advanceTo(startAt);
  const wheel = new TimingWheel(clock.scheduler, tickMs, slotCount);
  const fired: [string, number][] = [];
  const timer = (label: string, also?: (now: number) => void) =>
    wheel.timer((now) => {
      fired.push([label, now]);
      also?.(now);
    });
  return { clock, wheel, fired, timer };
}

describe('TimingWheel', () => {
  it('fires at the first tick boundary at or after the due time', () => {
    const { clock, fired, timer, wheel } = setup(50);
    timer('a').schedule(120);
    timer('b').schedule(150);
    timer('c').schedule(151);
    expect(wheel.size).toBe(3);
    clock.advance(149);
    expect(fired).toStrictEqual([]);
    clock.advance(1);
    expect(fired).toStrictEqual([
      ['b', 150],
      ['a', 150],
    ]);
    clock.advance(50);
    expect(fired.slice(2)).toStrictEqual([['c', 200]]);
    expect(wheel.size).toBe(0);
  });

  it('never fires early and at most one tick late, wherever the wheel starts and whenever timers are armed', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 7, 50),
        fc.constantFrom(4, 8, 1024),
        fc.nat(1000),
        fc.array(fc.tuple(fc.nat(3000), fc.nat(5000)), { minLength: 1, maxLength: 20 }),
        (tickMs, slots, startAt, plan) => {
          const { clock, wheel } = setup(tickMs, slots, startAt);
          // Each timer is armed at startAt + armAfter for startAt + armAfter + dueIn.
          const arms = plan.map(([armAfter, dueIn]) => ({ armAt: startAt + armAfter, at: startAt + armAfter + dueIn, firedAt: [] as number[] }));
          const byArmTime = [...arms].sort((x, y) => x.armAt - y.armAt);
          for (const a of byArmTime) {
            clock.advanceTo(a.armAt);
            wheel.timer((now) => a.firedAt.push(now)).schedule(a.at);
          }
          clock.advanceTo(startAt + 8000 + 2 * tickMs);
          for (const a of arms) {
            const expected = Math.max(Math.ceil(a.at / tickMs), Math.floor(a.armAt / tickMs) + 1) * tickMs;
            expect(a.firedAt).toStrictEqual([expected]);
            expect(expected).toBeGreaterThanOrEqual(a.at);
            expect(expected - a.at).toBeLessThanOrEqual(tickMs);
          }
          expect(wheel.size).toBe(0);
          expect(clock.pending).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('fires a timer armed while idle between boundaries one partial tick later, not a full tick after arming', () => {
    const { clock, fired, timer } = setup(50, undefined, 30);
    timer('a').schedule(40);
    clock.advance(19);
    expect(fired).toStrictEqual([]);
    clock.advance(1);
    expect(fired).toStrictEqual([['a', 50]]);
  });

  it('is never more than one tick late when started off a boundary', () => {
    // Started at 30, due at 51: the boundary at or after 51 is 100 (49 ms late), not 130.
    const { clock, fired, timer } = setup(50, undefined, 30);
    timer('a').schedule(51);
    clock.advance(69);
    expect(fired).toStrictEqual([]);
    clock.advance(1);
    expect(fired).toStrictEqual([['a', 100]]);
  });

  it('fires a timer due in the past at the next tick', () => {
    const { clock, fired, timer } = setup(10, undefined, 1000);
    timer('a').schedule(0);
    clock.advance(9);
    expect(fired).toStrictEqual([]);
    clock.advance(1);
    expect(fired).toStrictEqual([['a', 1010]]);
  });

  it('re-arming moves a timer, without firing it twice', () => {
    const { clock, fired, timer, wheel } = setup(10);
    const t = timer('a');
    t.schedule(100);
    t.schedule(300);
    expect(wheel.size).toBe(1);
    expect(t.armed).toBe(true);
    clock.advance(299);
    expect(fired).toStrictEqual([]);
    clock.advance(1);
    expect(fired).toStrictEqual([['a', 300]]);
    expect(t.armed).toBe(false);
    // Re-arming earlier than before works as well.
    t.schedule(500);
    t.schedule(400);
    clock.advance(200);
    expect(fired).toStrictEqual([
      ['a', 300],
      ['a', 400],
    ]);
  });

  it('cancel disarms; cancelling twice or an unarmed timer is harmless', () => {
    const { clock, fired, timer, wheel } = setup(10);
    const a = timer('a');
    const b = timer('b');
    a.cancel();
    a.schedule(100);
    b.schedule(100);
    a.cancel();
    a.cancel();
    expect(a.armed).toBe(false);
    expect(wheel.size).toBe(1);
    clock.advance(1000);
    expect(fired).toStrictEqual([['b', 100]]);
  });

  it('holds timers far beyond the wheel span for extra rounds', () => {
    // 8 slots of 10 ms: an 80 ms span.
    const { clock, fired, timer, wheel } = setup(10, 8);
    timer('far').schedule(1000);
    timer('near').schedule(30);
    timer('same-slot-next-round').schedule(110);
    clock.advance(999);
    expect(fired).toStrictEqual([
      ['near', 30],
      ['same-slot-next-round', 110],
    ]);
    expect(wheel.size).toBe(1);
    clock.advance(1);
    expect(fired[2]).toStrictEqual(['far', 1000]);
    expect(fired).toHaveLength(3);
  });

  it('rounds the slot count up to a power of two', () => {
    // 5 slots become 8: a timer 6 slots out would collide with slot 1 if there were only 5.
    const { clock, fired, timer } = setup(10, 5);
    timer('a').schedule(60);
    clock.advance(10);
    expect(fired).toStrictEqual([]);
    clock.advance(50);
    expect(fired).toStrictEqual([['a', 60]]);
  });

  it('lets a callback cancel another timer due in the same tick', () => {
    const { clock, fired, timer } = setup(10);
    const pair: ReturnType<typeof timer>[] = [];
    pair.push(timer('a', () => pair[1]!.cancel()));
    pair.push(timer('b', () => pair[0]!.cancel()));
    pair[0]!.schedule(100);
    pair[1]!.schedule(100);
    clock.advance(1000);
    // Whichever ran first cancelled the other.
    expect(fired).toHaveLength(1);
    expect(fired[0]![1]).toBe(100);
  });

  it('lets a callback re-arm another timer due in the same tick, which then fires only at its new time', () => {
    const { clock, fired, timer } = setup(10);
    const pair: ReturnType<typeof timer>[] = [];
    let rearmed = false;
    const rearmOther = (i: number) => () => {
      if (rearmed) return;
      rearmed = true;
      pair[1 - i]!.schedule(250);
    };
    pair.push(timer('a', rearmOther(0)));
    pair.push(timer('b', rearmOther(1)));
    pair[0]!.schedule(100);
    pair[1]!.schedule(100);
    clock.advance(1000);
    expect(fired).toHaveLength(2);
    expect(fired[0]![1]).toBe(100);
    expect(fired[1]![1]).toBe(250);
    expect(fired[0]![0]).not.toBe(fired[1]![0]);
  });

  it('lets a callback re-arm its own timer, even for a time already past', () => {
    const { clock, fired, wheel } = setup(10);
    let n = 0;
    const t = wheel.timer((now) => {
      fired.push(['t', now]);
      if (++n < 3) t.schedule(now - 5);
    });
    t.schedule(100);
    clock.advance(1000);
    expect(fired).toStrictEqual([
      ['t', 100],
      ['t', 110],
      ['t', 120],
    ]);
  });

  it('runs one driver action however many timers it holds, and stops when empty', () => {
    const { clock, wheel, timer } = setup(10);
    expect(clock.pending).toBe(0);
    for (let i = 1; i <= 1000; i++) timer(`t${i}`).schedule(i * 3);
    expect(wheel.size).toBe(1000);
    expect(clock.pending).toBe(1);
    clock.advance(1500);
    expect(clock.pending).toBe(1);
    clock.advance(1500);
    expect(wheel.size).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('stops the driver at once when the last timer is cancelled, and restarts on the next arm', () => {
    const { clock, fired, timer, wheel } = setup(10);
    const a = timer('a');
    a.schedule(100);
    expect(clock.pending).toBe(1);
    a.cancel();
    expect(clock.pending).toBe(0);
    clock.advance(500);
    expect(fired).toStrictEqual([]);
    a.schedule(525);
    expect(clock.pending).toBe(1);
    clock.advance(100);
    expect(fired).toStrictEqual([['a', 530]]);
    expect(clock.pending).toBe(0);
    expect(wheel.size).toBe(0);
  });

  it('keeps the driver when a callback empties the wheel and then arms again', () => {
    const { clock, fired, timer } = setup(10);
    const b = timer('b');
    const a = timer('a', (now) => {
      b.cancel();
      b.schedule(now + 40);
    });
    a.schedule(20);
    b.schedule(20);
    clock.advance(100);
    expect(fired.filter(([l]) => l === 'a')).toStrictEqual([['a', 20]]);
    // b either fired at 20 before a re-armed it, or only at 60; it always fires at 60.
    expect(fired.at(-1)).toStrictEqual(['b', 60]);
    expect(clock.pending).toBe(0);
  });

  it('reports every tick to onTick listeners with zero lateness in steady state', () => {
    const { clock, wheel, timer } = setup(50, undefined, 30);
    const ticks: [number, number][] = [];
    wheel.onTick((now, late) => ticks.push([now, late]));
    timer('a').schedule(120);
    clock.advance(1000);
    expect(ticks).toStrictEqual([
      [50, 0],
      [100, 0],
      [150, 0],
    ]);
  });

  it('catches up after a stall: every timer due during it fires on the first tick after, and lateness is reported', () => {
    // 8 slots of 10 ms: the 5000 ms stall spans many rounds of the wheel.
    const { clock, wheel, fired, timer } = setup(10, 8);
    const ticks: [number, number][] = [];
    wheel.onTick((now, late) => ticks.push([now, late]));
    // A callback that blocks the event loop for 5000 ms of virtual time.
    timer('stall', () => {
      clock.scheduler.frame += 5000;
    }).schedule(50);
    const due = [100, 170, 200, 1000, 4999, 5050];
    for (const at of due) timer(`t${at}`).schedule(at);
    timer('later').schedule(9000);
    clock.advance(5050);
    expect(fired[0]).toStrictEqual(['stall', 50]);
    expect(fired.slice(1).sort()).toStrictEqual(due.map((at) => [`t${at}`, 5050]).sort());
    expect(ticks.slice(0, 5)).toStrictEqual([
      [10, 0],
      [20, 0],
      [30, 0],
      [40, 0],
      [50, 0],
    ]);
    // The run after the stall was due at 60 and ran at 5050.
    expect(ticks[5]).toStrictEqual([5050, 4990]);
    expect(ticks).toHaveLength(6);
    clock.advance(3949);
    expect(fired).toHaveLength(1 + due.length);
    clock.advance(1);
    expect(fired.at(-1)).toStrictEqual(['later', 9000]);
    expect(ticks.at(-1)).toStrictEqual([9000, 0]);
    expect(clock.pending).toBe(0);
  });

  it('tells onTick listeners about a late tick before that tick’s due timers fire', () => {
    const { clock, wheel, timer, fired } = setup(10);
    const order: string[] = [];
    wheel.onTick((now, late) => order.push(`tick ${now} late ${late}`));
    timer('a', () => order.push('a fired')).schedule(20);
    clock.advanceTo(10);
    clock.stall(500);
    clock.advance(0);
    expect(order).toStrictEqual(['tick 10 late 0', 'tick 510 late 490', 'a fired']);
    expect(fired).toStrictEqual([['a', 510]]);
  });

  it('skips idle time without processing it when restarted', () => {
    const { clock, wheel, timer, fired } = setup(10);
    const ticks: number[] = [];
    wheel.onTick((now) => ticks.push(now));
    timer('a').schedule(20);
    clock.advance(100);
    expect(ticks).toStrictEqual([10, 20]);
    clock.advance(1_000_000);
    timer('b').schedule(1_000_125);
    clock.advance(1000);
    expect(fired).toStrictEqual([
      ['a', 20],
      ['b', 1_000_130],
    ]);
    expect(ticks.slice(2)).toStrictEqual([1_000_110, 1_000_120, 1_000_130]);
  });
});
