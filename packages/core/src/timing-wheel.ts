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
    /** @internal */ readonly fire: (now: number) => void,
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
  private ticking = false;

  /**
   * @param scheduler drives the wheel and is its clock (`now()` in ms).
   * @param tickMs resolution: timers fire up to one tick late, never early.
   * @param slotCount rounded up to a power of two; timers further out than
   *   `slotCount × tickMs` wait extra rounds in their slot.
   */
  constructor(
    readonly scheduler: SchedulerLike,
    tickMs: number,
    slotCount = 1024,
  ) {
    this.tickMs = tickMs;
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

  /** Creates a timer that calls `fire(now)` when due. Nothing is armed yet. */
  timer(fire: (now: number) => void): WheelTimer {
    return new WheelTimer(this, fire);
  }

  /** Calls `listener(now, lateByMs)` after every tick the driver runs. */
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
    if (this.count === 0 && !this.ticking) this.stop();
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
      wheel.advance();
      if (wheel.count > 0) this.schedule(undefined, Math.max(0, wheel.expectedAt - wheel.scheduler.now()));
      else wheel.driver = null;
    }, this.expectedAt - now);
  }

  private stop(): void {
    this.driver?.unsubscribe();
    this.driver = null;
  }

  /** Processes every tick up to now. */
  private advance(): void {
    const now = this.scheduler.now();
    const late = Math.max(0, now - this.expectedAt);
    this.expectedAt = (Math.floor(now / this.tickMs) + 1) * this.tickMs;
    const target = Math.floor(now / this.tickMs);
    const size = this.mask + 1;
    // After a long stall, one pass over every slot finds everything due.
    if (target - this.cursor > size) this.cursor = target - size;
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
    this.ticking = true;
    try {
      for (let i = 0; i < due.length; i++) {
        const t = due[i]!;
        // A callback fired earlier in this batch may have re-armed or cancelled it.
        if (t.tick === -2) {
          t.tick = -1;
          t.fire(now);
        }
      }
    } finally {
      for (const t of due) if (t.tick === -2) t.tick = -1;
      due.length = 0;
      this.ticking = false;
    }
    for (const l of this.listeners) l(now, late);
  }
}
