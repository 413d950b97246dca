/**
 * The Node side of own-stall awareness: a probe timer whose lateness (the event loop was
 * blocked, the process was stopped) and the drift between wall clock and monotonic clock
 * (the host slept, the clock was stepped) feed the engine's `StallGuard`; plus the
 * event-loop delay histogram `/metrics` already keeps, for lag p99 and max.
 */
import type { Stall, StallGuard, StallSource } from '@vigil/core';
import { eventLoopDelay } from './metrics.js';

/** Named defaults (ms). */
export const LOCAL_HEALTH_DEFAULTS = {
  /** Period of the probe timer. Its lateness is an event-loop delay observation. */
  probeMs: 20,
  /** Wall clock moving this much more or less than the monotonic clock between two probes is a jump. */
  clockJumpMs: 1000,
} as const;

export interface LocalHealthOptions {
  /** Probe period, ms. Default 20. */
  readonly probeMs?: number;
  /** Smallest wall-vs-monotonic disagreement counted as a clock jump, ms. Default 1000. */
  readonly clockJumpMs?: number;
}

/** This process's own health, as `VigilServer.health()` and `GET /api/health` report it. */
export interface LocalHealthSnapshot {
  /** Event-loop delay beyond schedule, 99th percentile over the last complete second, ms. */
  readonly eventLoopLagP99Ms: number;
  /** Largest event-loop delay beyond schedule over the last 10 minutes (one-second windows), ms. */
  readonly eventLoopLagMaxMs: number;
  /** Stalls of this process (blocked loop, long GC, SIGSTOP) the stall guard counted. */
  readonly stalls: number;
  /** Their total length, ms. */
  readonly stallMsTotal: number;
  /** The longest one, ms. */
  readonly longestStallMs: number;
  /** The latest stall or clock jump (engine clock, ms), or null. */
  readonly lastStall: { readonly from: number; readonly to: number; readonly durationMs: number; readonly source: StallSource } | null;
  /** Wall-clock jumps against the monotonic clock (host sleep, clock steps). */
  readonly clockJumps: number;
  /** Peers re-probed after a stall instead of being judged. */
  readonly reprobes: number;
  /** False when own-stall awareness is turned off (`stallGuard: false`). */
  readonly guarded: boolean;
}

export class LocalHealth {
  private readonly probeMs: number;
  private readonly clockJumpMs: number;
  private timer: NodeJS.Timeout | null = null;
  private expectedAt = 0;
  private wallMinusClock = 0;

  /**
   * @param guard the engine's stall guard (null: only lag is measured).
   * @param now the engine's clock (monotonic ms).
   * @param stats the engine's counters (for `reprobes`).
   */
  constructor(
    private readonly guard: StallGuard | null,
    private readonly now: () => number,
    private readonly stats: { readonly reprobes: number },
    options: LocalHealthOptions = {},
  ) {
    this.probeMs = options.probeMs ?? LOCAL_HEALTH_DEFAULTS.probeMs;
    this.clockJumpMs = options.clockJumpMs ?? LOCAL_HEALTH_DEFAULTS.clockJumpMs;
  }

  /** Starts probing (idempotent). The timer is unref'd: it never keeps the process alive. */
  start(): void {
    if (this.timer !== null) return;
    eventLoopDelay();
    const now = this.now();
    this.expectedAt = now + this.probeMs;
    this.wallMinusClock = Date.now() - now;
    this.timer = setInterval(() => this.probe(), this.probeMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  snapshot(): LocalHealthSnapshot {
    const lag = eventLoopDelay();
    const g = this.guard;
    const last: Stall | null = g?.last ?? null;
    return {
      eventLoopLagP99Ms: round(lag.p99Ms),
      eventLoopLagMaxMs: round(lag.maxMs),
      stalls: g?.count ?? 0,
      stallMsTotal: round(g?.totalMs ?? 0),
      longestStallMs: round(g?.longestMs ?? 0),
      lastStall: last === null ? null : { from: round(last.from), to: round(last.to), durationMs: round(last.to - last.from), source: last.source },
      clockJumps: g?.clockJumps ?? 0,
      reprobes: this.stats.reprobes,
      guarded: g !== null,
    };
  }

  private probe(): void {
    const now = this.now();
    const late = now - this.expectedAt;
    this.expectedAt = now + this.probeMs;
    this.guard?.observeLateness(now, late, 'event-loop');
    const wallMinusClock = Date.now() - now;
    const jump = wallMinusClock - this.wallMinusClock;
    this.wallMinusClock = wallMinusClock;
    if (Math.abs(jump) >= this.clockJumpMs) this.guard?.observeClockJump(now, jump);
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
