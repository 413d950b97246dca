import { LivenessEngine } from '../src/liveness-engine.js';
import { STALL_DEFAULTS, StallGuard, type Stall } from '../src/stall-guard.js';
import { VirtualClock } from './virtual-time.js';

describe('StallGuard', () => {
  it('counts lateness from minStallMs up as a stall ending now, and ignores less', () => {
    const g = new StallGuard({ minStallMs: 100 });
    expect(g.observeLateness(1000, 99)).toBe(false);
    expect([g.count, g.totalMs, g.lastEnd]).toStrictEqual([0, 0, Number.NEGATIVE_INFINITY]);
    expect(g.observeLateness(2000, 100)).toBe(true);
    expect([g.count, g.totalMs, g.longestMs, g.lastEnd]).toStrictEqual([1, 100, 100, 2000]);
    expect(g.last).toStrictEqual({ from: 1900, to: 2000, source: 'timer' });
  });

  it('merges overlapping observations of one stall (the wheel and a probe both saw it)', () => {
    const g = new StallGuard({ minStallMs: 10 });
    g.observe(1050, 5000, 'timer');
    g.observe(1010, 5003, 'event-loop');
    expect([g.count, g.totalMs, g.longestMs]).toStrictEqual([1, 3993, 3993]);
    expect(g.last).toStrictEqual({ from: 1010, to: 5003, source: 'event-loop' });
    // An observation that swallows two earlier spans counts no new stall.
    g.observe(6000, 6100, 'timer');
    g.observe(900, 7000, 'event-loop');
    expect([g.count, g.totalMs]).toStrictEqual([2, 6100]);
    expect(g.creditSince(0)).toBe(6100);
  });

  it('answers how much of the silence since t our stalls explain', () => {
    const g = new StallGuard({ minStallMs: 10 });
    g.observe(1000, 1500, 'timer');
    g.observe(3000, 3200, 'timer');
    g.observe(4000, 7000, 'timer');
    expect(g.creditSince(0)).toBe(3700);
    expect(g.creditSince(1200)).toBe(300 + 200 + 3000);
    expect(g.creditSince(1500)).toBe(3200);
    expect(g.creditSince(3100)).toBe(100 + 3000);
    expect(g.creditSince(6999)).toBe(1);
    expect(g.creditSince(7000)).toBe(0);
    // Bounded by `now` as well.
    expect(g.creditSince(0, 5000)).toBe(500 + 200 + 1000);
    expect(g.creditSince(1200, 1400)).toBe(200);
  });

  it('cuts every stall out of effective time, read as time goes on', () => {
    const g = new StallGuard({ minStallMs: 10 });
    const at800 = g.effective(800);
    expect(at800).toBe(800);
    g.observe(1000, 1500, 'timer');
    expect(g.effective(1500)).toBe(1000);
    expect(g.effective(2000)).toBe(1500);
    g.observe(3000, 3200, 'timer');
    // Effective silence since 800 is the raw silence less the credit.
    expect(g.effective(4000) - at800).toBe(4000 - 800 - g.creditSince(800));
    expect(g.effective(4000) - at800).toBe(2500);
  });

  it('remembers a bounded history: the oldest spans stop earning credit', () => {
    const g = new StallGuard({ minStallMs: 10, historySize: 2 });
    g.observe(100, 200, 'timer');
    g.observe(300, 400, 'timer');
    g.observe(500, 600, 'timer');
    expect([g.count, g.totalMs]).toStrictEqual([3, 300]);
    expect(g.creditSince(0)).toBe(200);
  });

  it('counts clock jumps and reports them without credit', () => {
    const g = new StallGuard();
    const seen: Stall[] = [];
    g.onStall((s) => seen.push(s));
    g.observeClockJump(10_000, 3_600_000);
    expect([g.clockJumps, g.count, g.totalMs, g.creditSince(0)]).toStrictEqual([1, 0, 0, 0]);
    expect(seen).toStrictEqual([{ from: 10_000 - 3_600_000, to: 10_000, source: 'clock-jump' }]);
  });

  it('has named defaults and refuses nonsense', () => {
    expect(STALL_DEFAULTS).toStrictEqual({ minStallMs: 20, historySize: 64, graceRtos: 4, graceMinTicks: 4 });
    expect(new StallGuard().minStallMs).toBe(20);
    expect(() => new StallGuard({ minStallMs: 0 })).toThrow(RangeError);
    expect(() => new StallGuard({ historySize: 0 })).toThrow(RangeError);
  });
});

describe('LivenessEngine stall guard', () => {
  it('is fed by the wheel’s lateness before the late tick’s timers fire, with a threshold of two ticks', () => {
    const clock = new VirtualClock();
    const engine = new LivenessEngine({ scheduler: clock.scheduler, tickMs: 50 });
    const stalls = engine.stalls!;
    expect(stalls.minStallMs).toBe(100);
    const creditAtFire: number[] = [];
    engine.wheel.timer(() => creditAtFire.push(stalls.creditSince(0))).schedule(400);
    engine.wheel.timer(() => undefined).schedule(10_000);
    clock.advanceTo(200);
    // Stopped at 200 for 1000 ms: the driver was due at 250 and runs at 1200.
    clock.stall(1000);
    clock.advance(0);
    expect(stalls.last).toStrictEqual({ from: 250, to: 1200, source: 'timer' });
    expect(creditAtFire).toStrictEqual([950]);
    // A 90 ms delay is noise at this tick.
    clock.stall(90);
    clock.advance(0);
    expect(stalls.count).toBe(1);
  });

  it('can be turned off', () => {
    const engine = new LivenessEngine({ stallGuard: false });
    expect(engine.stalls).toBeNull();
  });

  it('takes guard options', () => {
    const engine = new LivenessEngine({ tickMs: 50, stallGuard: { minStallMs: 500 } });
    expect(engine.stalls!.minStallMs).toBe(500);
  });
});
