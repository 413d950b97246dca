/**
 * A hashed timing wheel (Varghese & Lauck, 1987) driven by one recurring action on an
 * RxJS scheduler. Many peers share it: the cost of a tick grows with the timers due in
 * it, not with the number of timers held. Re-arming a timer allocates nothing, and the
 * driver stops while the wheel is empty so processes and virtual-time runs can finish.
 */
import type { SchedulerAction, SchedulerLike, Subscription } from 'rxjs';

/** One reusable timer on a wheel. `schedule` re-arms it; `cancel` disarms it. */
export class WheelTimer {
  /** @internal */ next: WheelTimer | null = null;
  /** @internal */ prev: WheelTimer | null = null;
  /** @internal absolute tick index when due; -1 when not armed, -2 while due in the current tick */ tick = -1;

  constructor(
    private readonly wheel: TimingWheel,
    /** @internal called with `target` as `this` (a shared method, not a closure per timer) */ readonly fire: (this: unknown, now: number) => void,
    /** @internal */ readonly target: unknown = undefined,
  ) {}

  /** True while armed. */
  get armed(): boolean {
    return this.tick >= 0;
  }

  /** Arms (or re-arms) the timer to fire at the first tick at or after `at` (clock ms). */
  schedule(at: number): void {
    this.wheel.arm(this, at);
  }

  cancel(): void {
    this.wheel.disarm(this);
  }
}

/** Observer of the wheel's own punctuality, for stall detection. */
export type TickListener = (now: number, lateByMs: number) => void;

/** Named defaults of the wheel. */
export const WHEEL_DEFAULTS = {
  /**
   * Most scheduler-clock ms one driver run spends firing due timers before it yields to
   * the event loop (I/O, other timers) and continues at once: at 19,900 peers and 1 s
   * heartbeats a 50 ms tick holds ~1,000 pings of ~20 µs each, a 20 ms block without it.
   */
  sliceMs: 2,
} as const;

export class TimingWheel {
  readonly tickMs: number;
  private readonly slots: (WheelTimer | null)[];
  private readonly mask: number;
  private cursor: number;
  private count = 0;
  private driver: Subscription | null = null;
  private expectedAt = 0;
  private readonly listeners: TickListener[] = [];
  private readonly due: WheelTimer[] = [];
  /** Index of the next timer in `due` to fire; below `due.length` while a tick's timers are still being fired, slice by slice. */
  private dueAt = 0;
  private ticking = false;
  private readonly sliceMs: number;

  /**
   * @param scheduler drives the wheel and is its clock (`now()` in ms).
   * @param tickMs resolution: timers fire up to one tick late, never early.
   * @param slotCount rounded up to a power of two; timers further out than
   *   `slotCount × tickMs` wait extra rounds in their slot.
   * @param sliceMs most scheduler-clock ms spent firing timers before yielding; default
   *   `WHEEL_DEFAULTS.sliceMs`. (A virtual clock does not move while timers fire: no slicing.)
   */
  constructor(
    readonly scheduler: SchedulerLike,
    tickMs: number,
    slotCount = 1024,
    sliceMs: number = WHEEL_DEFAULTS.sliceMs,
  ) {
    this.tickMs = tickMs;
    this.sliceMs = sliceMs;
    let size = 1;
    while (size < slotCount) size <<= 1;
    this.slots = new Array<WheelTimer | null>(size).fill(null);
    this.mask = size - 1;
    this.cursor = Math.floor(scheduler.now() / tickMs);
  }

  /** Timers currently armed. */
  get size(): number {
    return this.count;
  }

  /**
   * Creates a timer that calls `fire(now)` when due, with `target` as `this` if given (so
   * many timers can share one method instead of a closure each). Nothing is armed yet.
   */
  timer<T>(fire: (this: T, now: number) => void, target?: T): WheelTimer {
    return new WheelTimer(this, fire as (this: unknown, now: number) => void, target);
  }

  /**
   * Calls `listener(now, lateByMs)` on every tick the driver runs, before the tick's due
   * timers fire: a stall is known before the timers it delayed judge anyone.
   */
  onTick(listener: TickListener): void {
    this.listeners.push(listener);
  }

  /** @internal */
  arm(t: WheelTimer, at: number): void {
    if (t.tick >= 0) this.unlink(t);
    if (this.driver === null) this.start();
    const tick = Math.max(Math.ceil(at / this.tickMs), this.cursor + 1);
    t.tick = tick;
    const slot = tick & this.mask;
    const head = this.slots[slot] ?? null;
    t.prev = null;
    t.next = head;
    if (head !== null) head.prev = t;
    this.slots[slot] = t;
    this.count++;
  }

  /** @internal */
  disarm(t: WheelTimer): void {
    if (t.tick === -2) t.tick = -1;
    if (t.tick < 0) return;
    this.unlink(t);
    if (this.count === 0 && !this.ticking && this.dueAt >= this.due.length) this.stop();
  }

  private unlink(t: WheelTimer): void {
    const slot = t.tick & this.mask;
    if (t.prev !== null) t.prev.next = t.next;
    else this.slots[slot] = t.next;
    if (t.next !== null) t.next.prev = t.prev;
    t.next = t.prev = null;
    t.tick = -1;
    this.count--;
  }

  private start(): void {
    const now = this.scheduler.now();
    // Ticks that passed while idle hold nothing: skip them.
    this.cursor = Math.max(this.cursor, Math.floor(now / this.tickMs));
    // Run on tick boundaries (not `tickMs` after an arbitrary start), so a timer fires at most one tick late.
    this.expectedAt = (this.cursor + 1) * this.tickMs;
    const wheel = this;
    this.driver = this.scheduler.schedule(function (this: SchedulerAction<unknown>) {
      // Timers left from the last slice fire before the next tick is taken.
      if (wheel.dueAt >= wheel.due.length) wheel.advance();
      wheel.fireDue();
      if (wheel.dueAt < wheel.due.length) this.schedule(undefined, 0);
      else if (wheel.count > 0) this.schedule(undefined, Math.max(0, wheel.expectedAt - wheel.scheduler.now()));
      else wheel.driver = null;
    }, this.expectedAt - now);
  }

  private stop(): void {
    this.driver?.unsubscribe();
    this.driver = null;
  }

  /** Collects the timers due in every tick up to now (the listeners hear of the tick first). */
  private advance(): void {
    const now = this.scheduler.now();
    const late = Math.max(0, now - this.expectedAt);
    this.expectedAt = (Math.floor(now / this.tickMs) + 1) * this.tickMs;
    const target = Math.floor(now / this.tickMs);
    const size = this.mask + 1;
    // After a long stall, one pass over every slot finds everything due.
    if (target - this.cursor > size) this.cursor = target - size;
    for (const l of this.listeners) l(now, late);
    const due = this.due;
    while (this.cursor < target) {
      this.cursor++;
      let t = this.slots[this.cursor & this.mask] ?? null;
      while (t !== null) {
        const next = t.next;
        if (t.tick <= target) {
          this.unlink(t);
          t.tick = -2;
          due.push(t);
        }
        t = next;
      }
    }
  }

  /**
   * Fires the collected timers, for at most `sliceMs` of scheduler time; the driver
   * comes back at once for the rest, after the event loop has had a turn.
   */
  private fireDue(): void {
    const due = this.due;
    const now = this.scheduler.now();
    const until = now + this.sliceMs;
    this.ticking = true;
    try {
      while (this.dueAt < due.length) {
        const t = due[this.dueAt++]!;
        // A callback fired earlier in this batch may have re-armed or cancelled it.
        if (t.tick === -2) {
          t.tick = -1;
          t.fire.call(t.target, now);
        }
        if ((this.dueAt & 31) === 0 && this.scheduler.now() >= until) break;
      }
    } catch (error) {
      for (let i = this.dueAt; i < due.length; i++) if (due[i]!.tick === -2) due[i]!.tick = -1;
      this.dueAt = due.length;
      throw error;
    } finally {
      this.ticking = false;
      if (this.dueAt >= due.length) {
        due.length = 0;
        this.dueAt = 0;
      }
    }
  }
}
