/**
 * Own-stall awareness: a record of the spans during which this process could not run
 * (a GC pause, a blocked event loop, SIGSTOP, a paused VM), fed by timer lateness, and
 * the answer to "how much of the silence since `t` did our own stall cause?", plus the
 * cap on how much of it any one peer may be excused. Pure and clock-agnostic: the timing
 * wheel feeds it in virtual time exactly as in production.
 */

/** Named defaults. */
export const STALL_DEFAULTS = {
  /** Lateness (ms) below this is scheduling noise, not a stall; engines use max(this, 2 ticks). */
  minStallMs: 20,
  /** Stall spans remembered for `creditSince`; older ones are forgotten (credit only shrinks). */
  historySize: 64,
  /** Grace after a stall, in RTOs of the peer (RFC 6298 RTO from the heartbeat RTT). */
  graceRtos: 4,
  /** Smallest grace after a stall, in wheel ticks (the socket reads that follow a late tick). */
  graceMinTicks: 4,
  /**
   * Most credit one peer's silence can earn, in that peer's timeouts (`maxCreditMs` unset):
   * a saturated loop is late on every tick, and uncapped credit would never let a silent
   * peer die (Lifeguard caps its local-health multiplier for the same reason).
   */
  maxCreditTimeouts: 1,
} as const;

/** What revealed a stall. */
export type StallSource =
  /** The engine's timer wheel ran late. */
  | 'timer'
  /** A dedicated event-loop probe ran late (server `LocalHealth`). */
  | 'event-loop'
  /** Wall clock and monotonic clock disagreed (the host slept or the clock was stepped). */
  | 'clock-jump';

/** One stall as observed, in the engine's clock (ms). */
export interface Stall {
  readonly from: number;
  readonly to: number;
  readonly source: StallSource;
}

export interface StallGuardOptions {
  /** Shortest lateness counted as a stall, ms. Default 20 (engines pass max(20, 2 × tickMs)). */
  readonly minStallMs?: number;
  /** Stall spans remembered for `creditSince`. Default 64. */
  readonly historySize?: number;
  /**
   * Most silence, ms, our stalls may excuse for one peer between two of its frames: its
   * dead line moves by at most this much however long or often we stall, so a dead peer
   * is declared dead within its timeout + this + one re-probe grace (at most one interval),
   * even on an event loop saturated for good. Before the handshake the cap applies to the
   * handshake deadline. Default: the peer's own `timeoutMs` (`handshakeTimeoutMs` before
   * its handshake); `Infinity` restores uncapped credit.
   */
  readonly maxCreditMs?: number;
}

export type StallListener = (stall: Stall) => void;

export class StallGuard {
  readonly minStallMs: number;
  /** The fixed cap on one peer's credit, ms; undefined: each peer's own timeout. */
  readonly maxCreditMs: number | undefined;
  /** Distinct stalls seen (overlapping observations of one stall count once). */
  count = 0;
  /** Total length of every stall seen, ms (overlaps counted once). Only grows. */
  totalMs = 0;
  /** Longest single stall, ms. */
  longestMs = 0;
  /** Clock jumps seen (wall clock vs monotonic clock). */
  clockJumps = 0;
  /** The latest stall, or null before any. */
  last: Stall | null = null;
  // Ring of merged spans [from, to), oldest first from `head`; ends are non-decreasing.
  private readonly from: Float64Array;
  private readonly to: Float64Array;
  private head = 0;
  private size = 0;
  private readonly listeners: StallListener[] = [];

  constructor(options: StallGuardOptions = {}) {
    this.minStallMs = options.minStallMs ?? STALL_DEFAULTS.minStallMs;
    const history = options.historySize ?? STALL_DEFAULTS.historySize;
    if (!(this.minStallMs > 0)) throw new RangeError(`minStallMs must be positive, got ${this.minStallMs}`);
    if (!(Number.isInteger(history) && history > 0)) throw new RangeError(`historySize must be a positive integer, got ${history}`);
    this.maxCreditMs = options.maxCreditMs;
    if (this.maxCreditMs !== undefined && !(this.maxCreditMs >= 0)) throw new RangeError(`maxCreditMs must be at least 0, got ${this.maxCreditMs}`);
    this.from = new Float64Array(history);
    this.to = new Float64Array(history);
  }

  /** End (clock ms) of the latest stall; −∞ before any. */
  get lastEnd(): number {
    return this.size === 0 ? Number.NEGATIVE_INFINITY : this.to[(this.head + this.size - 1) % this.to.length]!;
  }

  /** Calls `listener` once per newly observed stall or extension of one. */
  onStall(listener: StallListener): void {
    this.listeners.push(listener);
  }

  /**
   * Something scheduled for `now − lateMs` ran at `now`: if `lateMs` reaches `minStallMs`
   * we were stalled for the whole lateness. Returns true if it counted as a stall.
   */
  observeLateness(now: number, lateMs: number, source: StallSource = 'timer'): boolean {
    if (!(lateMs >= this.minStallMs)) return false;
    this.observe(now - lateMs, now, source);
    return true;
  }

  /**
   * We could not run during [from, to). Observations arrive as they end (`to` does not go
   * back in time); one that overlaps the latest span extends it instead of counting again.
   */
  observe(from: number, to: number, source: StallSource): void {
    if (!(to > from)) return;
    const cap = this.to.length;
    let start = from;
    let added = to - from;
    let merged = false;
    // Merge with every remembered span the new one overlaps (only the newest ones can).
    while (this.size > 0) {
      const i = (this.head + this.size - 1) % cap;
      const f = this.from[i]!;
      const t = this.to[i]!;
      if (t < start) break;
      added -= Math.max(0, Math.min(t, to) - Math.max(f, start));
      start = Math.min(start, f);
      to = Math.max(to, t);
      this.size--;
      merged = true;
    }
    if (this.size === cap) {
      this.head = (this.head + 1) % cap;
      this.size--;
    }
    const i = (this.head + this.size) % cap;
    this.from[i] = start;
    this.to[i] = to;
    this.size++;
    this.totalMs += Math.max(0, added);
    if (!merged) this.count++;
    this.longestMs = Math.max(this.longestMs, to - start);
    this.last = { from: start, to, source };
    for (const l of this.listeners) l(this.last);
  }

  /**
   * The wall clock moved `jumpMs` more (or less) than the monotonic clock around `now`:
   * the host slept or the clock was stepped. Counted and reported, never credited: the
   * monotonic clock did not run while the host slept, so no silence needs excusing.
   */
  observeClockJump(now: number, jumpMs: number): void {
    this.clockJumps++;
    this.last = { from: now - Math.abs(jumpMs), to: now, source: 'clock-jump' };
    for (const l of this.listeners) l(this.last);
  }

  /** Ms of [since, now] during which we were stalled: silence a peer is not to blame for. */
  creditSince(since: number, now = Number.POSITIVE_INFINITY): number {
    if (this.lastEnd <= since) return 0;
    const cap = this.to.length;
    let credit = 0;
    for (let k = this.size - 1; k >= 0; k--) {
      const i = (this.head + k) % cap;
      const t = this.to[i]!;
      if (t <= since) break;
      credit += Math.max(0, Math.min(t, now) - Math.max(this.from[i]!, since));
    }
    return credit;
  }

  /** The cap on the credit of a peer whose hard limit of silence is `timeoutMs`, ms. */
  creditCap(timeoutMs: number): number {
    return this.maxCreditMs ?? STALL_DEFAULTS.maxCreditTimeouts * timeoutMs;
  }

  /** Effective time: the clock with every stall cut out (`now − totalMs`). */
  effective(now: number): number {
    return now - this.totalMs;
  }
}
