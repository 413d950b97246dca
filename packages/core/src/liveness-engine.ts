/**
 * The liveness engine: one shared timer wheel on an injected RxJS scheduler, the
 * detector factory, the stall guard the wheel's own lateness feeds, and the stream of
 * every peer's state changes. Peers are watched by `PeerMonitor`s the engine creates.
 */
import { Subject, type Observable, type SchedulerLike } from 'rxjs';
import { monotonicScheduler } from './clock.js';
import { HEARTBEAT_DEFAULTS } from './config.js';
import { fixedTimeoutDetector, type DetectorFactory } from './failure-detector.js';
import type { StateChange } from './peer-state.js';
import { STALL_DEFAULTS, StallGuard, type StallGuardOptions } from './stall-guard.js';
import { TimingWheel } from './timing-wheel.js';

export interface LivenessEngineOptions {
  /** Drives every timer and is the clock (ms). Default: RxJS async scheduler with a monotonic clock. */
  readonly scheduler?: SchedulerLike;
  /** Timer wheel resolution, ms. Default 50. */
  readonly tickMs?: number;
  /** Failure detector for each peer. Default: fixed timeout. */
  readonly detector?: DetectorFactory;
  /** Randomness for ping jitter, in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
  /**
   * Own-stall awareness: silence our own stalls explain is not held against peers, and
   * peers are re-probed after one. Options, or false to judge raw silence (the naive way).
   * Default: on, counting wheel lateness of max(20 ms, 2 ticks) as a stall and excusing at
   * most one timeout of any peer's silence (`maxCreditMs`).
   */
  readonly stallGuard?: StallGuardOptions | false;
}

export class LivenessEngine {
  readonly scheduler: SchedulerLike;
  readonly wheel: TimingWheel;
  readonly detector: DetectorFactory;
  readonly random: () => number;
  /** Our own stalls, fed by the wheel's lateness (and by anything else that sees one); null when disabled. */
  readonly stalls: StallGuard | null;
  /** Heartbeat counters across every connection on this engine. */
  readonly stats = { pingsSent: 0, pongsReceived: 0, reprobes: 0 };
  private readonly changeSubject = new Subject<StateChange>();
  /** Every state change of every peer this engine watches. */
  readonly changes$: Observable<StateChange> = this.changeSubject.asObservable();

  constructor(options: LivenessEngineOptions = {}) {
    this.scheduler = options.scheduler ?? monotonicScheduler;
    this.wheel = new TimingWheel(this.scheduler, options.tickMs ?? HEARTBEAT_DEFAULTS.tickMs);
    this.detector = options.detector ?? fixedTimeoutDetector;
    this.random = options.random ?? Math.random;
    if (options.stallGuard === false) {
      this.stalls = null;
    } else {
      const stalls = new StallGuard({ minStallMs: Math.max(STALL_DEFAULTS.minStallMs, 2 * this.wheel.tickMs), ...options.stallGuard });
      this.stalls = stalls;
      // The wheel reports lateness before it fires the timers the stall delayed.
      this.wheel.onTick((now, late) => stalls.observeLateness(now, late, 'timer'));
    }
  }

  /** The engine's clock, ms. */
  now(): number {
    return this.scheduler.now();
  }

  /** @internal */
  emit(change: StateChange): void {
    this.changeSubject.next(change);
  }
}
