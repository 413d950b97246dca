/**
 * The timing wheel's bounded ticks: when firing a tick's timers takes longer than
 * `sliceMs` on the scheduler's clock, the wheel yields (other actions due run) and then
 * fires the rest, none lost, none twice. Work cost is simulated by moving the virtual
 * clock inside the callbacks; with a clock that does not move, nothing changes.
 */
import { TimingWheel } from '../src/timing-wheel.js';
import { VirtualClock } from './virtual-time.js';

/** A wheel whose timers each "cost" `costMs` of clock time, and a log of fires and other actions. */
function setup(costMs: number) {
  const clock = new VirtualClock();
  const wheel = new TimingWheel(clock.scheduler, 50, 1024, 4);
  const log: string[] = [];
  const timer = (label: string, also?: () => void) =>
    wheel.timer(() => {
      log.push(label);
      clock.scheduler.frame += costMs;
      also?.();
    });
  return { clock, wheel, log, timer };
}

// Timers due in one tick fire newest-armed first (each slot is a list with the newest at its head).

describe('TimingWheel slices', () => {
  it('yields after sliceMs of firing: an action queued meanwhile runs between slices, and every timer fires once', () => {
    const { clock, log, timer } = setup(1);
    const labels = Array.from({ length: 100 }, (_, i) => `t${i}`);
    labels.forEach((label, i) => timer(label, i === labels.length - 1 ? () => clock.scheduler.schedule(() => log.push('io'), 0) : undefined).schedule(50));
    clock.advance(1000);
    // The clock is checked every 32 fires: the first slice ends after 32 × 1 ms ≥ 4 ms.
    expect(log.indexOf('io')).toBe(32);
    expect(log.filter((l) => l !== 'io').sort()).toEqual([...labels].sort());
  });

  it('fires everything in one run when the clock does not move (virtual time): no behaviour change', () => {
    const { clock, log, timer } = setup(0);
    for (let i = 0; i < 100; i++) timer(`t${i}`, i === 99 ? () => clock.scheduler.schedule(() => log.push('io'), 0) : undefined).schedule(50);
    clock.advance(1000);
    expect(log.indexOf('io')).toBe(100);
  });

  it('keeps firing the rest of a tick when the last armed timer is cancelled between slices', () => {
    const { clock, log, timer, wheel } = setup(1);
    const far = timer('far');
    far.schedule(10_000);
    for (let i = 0; i < 40; i++) timer(`t${i}`, i === 39 ? () => clock.scheduler.schedule(() => far.cancel(), 0) : undefined).schedule(50);
    clock.advance(1000);
    expect(log).toHaveLength(40);
    expect(log).not.toContain('far');
    expect(wheel.size).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('lets a timer still waiting for its slice be re-armed or cancelled meanwhile', () => {
    const { clock, log, timer } = setup(1);
    const timers = Array.from({ length: 64 }, (_, i) => timer(`t${i}`));
    // Fired 59th and 58th: in the second slice.
    const moved = timers[5]!;
    const cancelled = timers[6]!;
    timers.forEach((t) => t.schedule(50));
    clock.scheduler.schedule(() => {
      moved.schedule(300);
      cancelled.cancel();
    }, 50);
    clock.advance(200);
    expect(log).toHaveLength(62);
    expect(log).not.toContain('t5');
    expect(log).not.toContain('t6');
    clock.advance(200);
    expect(log.at(-1)).toBe('t5');
  });
});
