/**
 * Deaths per minute by cause: a sliding 60 s window of death events on the engine
 * clock, with counts kept incrementally so reading it is O(causes).
 */

export const DEATH_WINDOW_MS = 60_000;

export class DeathRate {
  private readonly times: number[] = [];
  private readonly causes: string[] = [];
  private head = 0;
  private readonly counts = new Map<string, number>();

  constructor(private readonly windowMs = DEATH_WINDOW_MS) {}

  record(cause: string, at: number): void {
    this.times.push(at);
    this.causes.push(cause);
    this.counts.set(cause, (this.counts.get(cause) ?? 0) + 1);
  }

  /** Deaths in the window ending at `now`, by cause (causes with none are left out). */
  perMinute(now: number): Record<string, number> {
    while (this.head < this.times.length && this.times[this.head]! <= now - this.windowMs) {
      const cause = this.causes[this.head]!;
      const n = (this.counts.get(cause) ?? 1) - 1;
      if (n === 0) this.counts.delete(cause);
      else this.counts.set(cause, n);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times.splice(0, this.head);
      this.causes.splice(0, this.head);
      this.head = 0;
    }
    return Object.fromEntries(this.counts);
  }
}
