/**
 * A flat virtual-time `SchedulerLike` for long replays. RxJS's `VirtualTimeScheduler`
 * makes every reschedule a child of the previous action, so an hour of 10 ms wheel ticks
 * builds a chain too deep to unsubscribe; here an action re-queues itself, as RxJS's
 * `AsyncAction` does on the real clock.
 */
import { Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';

/** What the queue needs of an action, whatever its state type. */
interface Queued {
  due: number;
  queued: boolean;
  run(): void;
}

class Action<T> extends Subscription implements SchedulerAction<T>, Queued {
  due = 0;
  state: T | undefined;
  queued = false;

  constructor(
    private readonly scheduler: VirtualScheduler,
    readonly work: (this: SchedulerAction<T>, state?: T) => void,
  ) {
    super();
  }

  schedule(state?: T, delay = 0): Subscription {
    if (this.closed) return this;
    this.state = state;
    this.due = this.scheduler.now() + delay;
    this.scheduler.enqueue(this);
    return this;
  }

  run(): void {
    this.work.call(this, this.state);
  }

  override unsubscribe(): void {
    this.scheduler.dequeue(this);
    super.unsubscribe();
  }
}

export class VirtualScheduler implements SchedulerLike {
  private clock = 0;
  // Few actions at once (the wheel's driver): a sorted array is enough.
  private readonly queue: Queued[] = [];

  now(): number {
    return this.clock;
  }

  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    return new Action<T>(this, work).schedule(state, delay);
  }

  /** Runs everything due up to `t` in order, then rests the clock on `t`. */
  advanceTo(t: number): void {
    for (let a = this.queue[0]; a !== undefined && a.due <= t; a = this.queue[0]) {
      this.queue.shift();
      a.queued = false;
      this.clock = Math.max(this.clock, a.due);
      a.run();
    }
    this.clock = Math.max(this.clock, t);
  }

  /** @internal */
  enqueue(a: Queued): void {
    this.dequeue(a);
    let i = this.queue.length;
    while (i > 0 && this.queue[i - 1]!.due > a.due) i--;
    this.queue.splice(i, 0, a);
    a.queued = true;
  }

  /** @internal */
  dequeue(a: Queued): void {
    if (!a.queued) return;
    const i = this.queue.indexOf(a);
    if (i >= 0) this.queue.splice(i, 1);
    a.queued = false;
  }
}
