/**
 * Virtual time for core tests: an RxJS `VirtualTimeScheduler` advanced by exact
 * amounts. Actions due up to and including the target run in order (including
 * actions they schedule, like the timing wheel's self-rescheduling driver); then
 * the clock rests on the target even if nothing was due there.
 */
import { VirtualTimeScheduler } from 'rxjs';

export class VirtualClock {
  readonly scheduler = new VirtualTimeScheduler();

  /** Current virtual time, ms. */
  now(): number {
    return this.scheduler.now();
  }

  /** Runs everything due in the next `ms` and leaves the clock at now + ms. */
  advance(ms: number): void {
    this.advanceTo(this.scheduler.frame + ms);
  }

  /** Runs everything due up to `target` and leaves the clock there. */
  advanceTo(target: number): void {
    if (target < this.scheduler.frame) throw new Error(`cannot go back from ${this.scheduler.frame} to ${target}`);
    this.scheduler.maxFrames = target;
    this.scheduler.flush();
    this.scheduler.frame = target;
  }

  /**
   * The process stops for `ms` (SIGSTOP, a blocked event loop): the clock jumps ahead and
   * everything that fell due meanwhile runs late, in order, at the next `advance`.
   */
  stall(ms: number): void {
    const end = this.scheduler.frame + ms;
    for (const action of this.scheduler.actions) action.delay = Math.max(action.delay, end);
    this.scheduler.frame = end;
  }

  /** Actions queued on the scheduler (0 once every timer driver has stopped). */
  get pending(): number {
    return this.scheduler.actions.length;
  }
}
