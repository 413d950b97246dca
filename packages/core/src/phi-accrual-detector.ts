/**
 * The phi accrual failure detector (Hayashibara, Défago, Yared, Katayama, "The φ Accrual
 * Failure Detector", SRDS 2004) as Akka and Pekko run it
 * (`akka.remote.PhiAccrualFailureDetector`): a bounded window of heartbeat inter-arrival
 * times, their mean and standard deviation, and φ = −log10(P(a heartbeat comes later than
 * now)) under a normal model. `dead` is Akka's verdict exactly: φ over mean + acceptable
 * pause reaches the threshold (Akka's "unreachable"). `suspect` is Vigil's earlier,
 * reversible warning: the same φ with its own (default zero) pause and a lower threshold.
 * The peer monitor still enforces the hard cap (`timeoutMs`).
 */
import { ConfigError } from '@vigil/protocol';
import type { PeerTiming } from './config.js';
import type { DetectorFactory, FailureDetector, Verdict } from './failure-detector.js';

/**
 * Named defaults. Durations scale with the peer's negotiated interval (a client may ask
 * for anything from `minIntervalMs` to `maxIntervalMs`), unless given in ms.
 * Akka's cluster defaults for comparison: threshold 8, 1000 samples, min std deviation
 * 100 ms and acceptable pause 3 s at a 1 s interval.
 */
export const PHI_DEFAULTS = {
  /** φ at which a peer turns suspect (P(later) = 10⁻³). */
  suspectThreshold: 3,
  /** φ at which a peer is declared dead (P(later) = 10⁻⁸, Akka's cluster threshold). */
  deadThreshold: 8,
  /** Inter-arrival samples kept per peer (8 bytes each). */
  windowSize: 100,
  /** Floor of the standard deviation, as a fraction of the interval (Akka: 100 ms at 1 s). */
  minStdDeviationFactor: 0.1,
  /**
   * Pause added to the mean for the dead verdict, as a fraction of the interval: a sender
   * pause (GC, a lost segment's retransmission) of 1.25 intervals is normal. On a calm link
   * the dead line then sits just under the default hard cap of 3 intervals; the benchmark's
   * GC-pause trace (pauses up to 1.8 s at a 1 s interval) sees no false death with it
   * (docs/detectors.md).
   */
  acceptableHeartbeatPauseFactor: 1.25,
  /** Pause added to the mean for the suspect verdict, as a fraction of the interval: none, suspicion is cheap. */
  suspectHeartbeatPauseFactor: 0,
  /** The first interval estimate, as a fraction of the interval (Akka seeds mean ± mean/4). */
  firstHeartbeatEstimateFactor: 1,
} as const;

export interface PhiAccrualOptions {
  /** φ at which a peer turns suspect. Default 3. */
  readonly suspectThreshold?: number;
  /** φ at which a peer is dead; above `suspectThreshold`. Default 8. */
  readonly deadThreshold?: number;
  /** Inter-arrival samples kept per peer. Default 100. */
  readonly windowSize?: number;
  /** Floor of the standard deviation, ms. Default 0.1 × the peer's interval. */
  readonly minStdDeviationMs?: number;
  /** Silence beyond the mean that is still normal before death, ms (GC pauses, a lost heartbeat), as in Akka. Default 1.25 × the peer's interval. */
  readonly acceptableHeartbeatPauseMs?: number;
  /** Silence beyond the mean before suspicion, ms; at most `acceptableHeartbeatPauseMs`. Default 0. */
  readonly suspectHeartbeatPauseMs?: number;
  /** Expected interval before any sample, ms. Default the peer's interval. */
  readonly firstHeartbeatEstimateMs?: number;
}

/** Parameters for one peer, every duration in ms. */
export interface PhiAccrualParameters {
  readonly suspectThreshold: number;
  readonly deadThreshold: number;
  readonly windowSize: number;
  readonly minStdDeviationMs: number;
  readonly acceptableHeartbeatPauseMs: number;
  readonly suspectHeartbeatPauseMs: number;
  readonly firstHeartbeatEstimateMs: number;
}

// The logistic approximation of the normal CDF Akka uses (Bowling et al., "A logistic
// approximation to the cumulative normal distribution", 2009): Φ(y) ≈ 1 / (1 + e^(−g(y))).
const A1 = 1.5976;
const A3 = 0.070566;

/**
 * φ for a silence of `timeDiff` ms given the mean and standard deviation of inter-arrival
 * times (ms): −log10(1 − Φ((timeDiff − mean) / std)), with Akka's logistic Φ. The two
 * branches are Akka's, for precision on either side of the mean.
 */
export function phi(timeDiff: number, mean: number, stdDeviation: number): number {
  const y = (timeDiff - mean) / stdDeviation;
  const e = Math.exp(-y * (A1 + A3 * y * y));
  // max(0, ·) turns the −0 of a silence far below the mean into 0.
  return Math.max(0, timeDiff > mean ? -Math.log10(e / (1 + e)) : -Math.log10(1 - 1 / (1 + e)));
}

/**
 * The standardized silence y at which φ reaches `threshold`: φ = log10(1 + e^(g(y))) with
 * g(y) = A1·y + A3·y³, so g(y) = ln(10^φ − 1), a monotone cubic solved by Cardano's formula.
 */
export function phiInverse(threshold: number): number {
  if (!(threshold > 0)) throw new RangeError(`phi threshold must be positive, got ${threshold}`);
  // ln(10^φ − 1) without overflow for large φ.
  const c = threshold * Math.LN10 + Math.log1p(-(10 ** -threshold));
  const p = A1 / A3;
  const q = -c / A3;
  const r = Math.sqrt((q * q) / 4 + (p * p * p) / 27);
  return Math.cbrt(-q / 2 + r) + Math.cbrt(-q / 2 - r);
}

/** Fills the defaults for a peer's timing and validates. @throws ConfigError naming the field. */
export function resolvePhiParameters(timing: Pick<PeerTiming, 'intervalMs'>, options: PhiAccrualOptions = {}): PhiAccrualParameters {
  const d = PHI_DEFAULTS;
  const suspectThreshold = options.suspectThreshold ?? d.suspectThreshold;
  const deadThreshold = options.deadThreshold ?? Math.max(d.deadThreshold, suspectThreshold + 1);
  const windowSize = options.windowSize ?? d.windowSize;
  const minStdDeviationMs = options.minStdDeviationMs ?? timing.intervalMs * d.minStdDeviationFactor;
  const acceptableHeartbeatPauseMs = options.acceptableHeartbeatPauseMs ?? timing.intervalMs * d.acceptableHeartbeatPauseFactor;
  const suspectHeartbeatPauseMs = options.suspectHeartbeatPauseMs ?? Math.min(acceptableHeartbeatPauseMs, timing.intervalMs * d.suspectHeartbeatPauseFactor);
  const firstHeartbeatEstimateMs = options.firstHeartbeatEstimateMs ?? timing.intervalMs * d.firstHeartbeatEstimateFactor;
  if (!(suspectThreshold > 0 && Number.isFinite(suspectThreshold))) throw new ConfigError('phi.suspectThreshold', `must be a positive number, got ${String(suspectThreshold)}`);
  if (!(deadThreshold > suspectThreshold && Number.isFinite(deadThreshold))) {
    throw new ConfigError('phi.deadThreshold', `must be a number above suspectThreshold (${suspectThreshold}), got ${String(deadThreshold)}`);
  }
  if (!(Number.isInteger(windowSize) && windowSize >= 2 && windowSize <= 100_000)) {
    throw new ConfigError('phi.windowSize', `must be an integer from 2 to 100000, got ${String(windowSize)}`);
  }
  if (!(minStdDeviationMs > 0 && Number.isFinite(minStdDeviationMs))) throw new ConfigError('phi.minStdDeviationMs', `must be a positive number of ms, got ${String(minStdDeviationMs)}`);
  if (!(acceptableHeartbeatPauseMs >= 0 && Number.isFinite(acceptableHeartbeatPauseMs))) {
    throw new ConfigError('phi.acceptableHeartbeatPauseMs', `must be a non-negative number of ms, got ${String(acceptableHeartbeatPauseMs)}`);
  }
  if (!(suspectHeartbeatPauseMs >= 0 && suspectHeartbeatPauseMs <= acceptableHeartbeatPauseMs)) {
    throw new ConfigError('phi.suspectHeartbeatPauseMs', `must be from 0 to acceptableHeartbeatPauseMs (${acceptableHeartbeatPauseMs}) ms, got ${String(suspectHeartbeatPauseMs)}`);
  }
  if (!(firstHeartbeatEstimateMs > 0 && Number.isFinite(firstHeartbeatEstimateMs))) {
    throw new ConfigError('phi.firstHeartbeatEstimateMs', `must be a positive number of ms, got ${String(firstHeartbeatEstimateMs)}`);
  }
  return { suspectThreshold, deadThreshold, windowSize, minStdDeviationMs, acceptableHeartbeatPauseMs, suspectHeartbeatPauseMs, firstHeartbeatEstimateMs };
}

/**
 * One peer's phi detector. Learns only from heartbeats (heartbeat-to-heartbeat intervals);
 * any frame is proof of life and restarts the silence φ is computed over. Verdicts are
 * taken in the time domain: the silences at which φ reaches each threshold are
 * `mean + pause + y·std` with y from `phiInverse`, recomputed when a sample is learned, so
 * `verdict` and `nextCheckAt` agree exactly and cost no logarithm.
 */
export class PhiAccrualDetector implements FailureDetector {
  readonly params: PhiAccrualParameters;
  private readonly samples: Float64Array;
  private head = 0;
  private count = 0;
  private sum = 0;
  private sumSquares = 0;
  private lastArrival: number;
  private lastHeartbeat: number;
  private readonly ySuspect: number;
  private readonly yDead: number;
  private suspectAfter = 0;
  private deadAfter = 0;

  /**
   * @param start when monitoring began (counts as a heartbeat arrival).
   * @param ySuspect,yDead `phiInverse` of the thresholds, when a factory already computed them.
   */
  constructor(params: PhiAccrualParameters, start: number, ySuspect = phiInverse(params.suspectThreshold), yDead = phiInverse(params.deadThreshold)) {
    this.params = params;
    this.samples = new Float64Array(params.windowSize);
    this.lastArrival = start;
    this.lastHeartbeat = start;
    this.ySuspect = ySuspect;
    this.yDead = yDead;
    // Akka bootstraps with two samples, mean ± mean/4, so the first intervals are judged
    // against a wide deviation instead of none.
    const m = params.firstHeartbeatEstimateMs;
    this.add(m - m / 4);
    this.add(m + m / 4);
  }

  /** Samples in the window. */
  get sampleCount(): number {
    return this.count;
  }

  /** Mean inter-arrival time in the window, ms. */
  get mean(): number {
    return this.sum / this.count;
  }

  /** Standard deviation in the window, floored at `minStdDeviationMs`. */
  get stdDeviation(): number {
    const mean = this.mean;
    const variance = this.sumSquares / this.count - mean * mean;
    return Math.max(Math.sqrt(Math.max(0, variance)), this.params.minStdDeviationMs);
  }

  /** φ at `now` over mean + `pauseMs` (default: the acceptable pause, i.e. Akka's φ, the one the dead threshold applies to). */
  phi(now: number, pauseMs = this.params.acceptableHeartbeatPauseMs): number {
    return phi(now - this.lastArrival, this.mean + pauseMs, this.stdDeviation);
  }

  /** Silence (ms since the last arrival) at which φ reaches the suspect and the dead threshold. */
  get thresholds(): { readonly suspectAfterMs: number; readonly deadAfterMs: number } {
    return { suspectAfterMs: this.suspectAfter, deadAfterMs: this.deadAfter };
  }

  record(now: number, heartbeat: boolean, learn = heartbeat): void {
    if (heartbeat) {
      const interval = now - this.lastHeartbeat;
      // Akka does not learn "the first heartbeat after failure": an interval that was itself
      // past its threshold (the peer was unavailable; here: past the dead line) would skew the
      // statistics (akka.remote.PhiAccrualFailureDetector#heartbeat, `if (isAvailable(timestamp))`).
      // Intervals that only crossed the earlier suspect line are learned, as Akka learns them.
      if (learn && interval >= 0 && interval < this.deadAfter) this.add(interval);
      this.lastHeartbeat = now;
    }
    this.lastArrival = Math.max(this.lastArrival, now);
  }

  // Both compare against the same sums, so the time `nextCheckAt` names is exactly where the verdict changes.
  verdict(now: number): Verdict {
    if (now >= this.lastArrival + this.deadAfter) return 'dead';
    if (now >= this.lastArrival + this.suspectAfter) return 'suspect';
    return 'alive';
  }

  nextCheckAt(now: number): number {
    const suspectAt = this.lastArrival + this.suspectAfter;
    if (now < suspectAt) return suspectAt;
    const deadAt = this.lastArrival + this.deadAfter;
    return now < deadAt ? deadAt : Number.POSITIVE_INFINITY;
  }

  private add(interval: number): void {
    const n = this.samples.length;
    if (this.count === n) {
      const old = this.samples[this.head]!;
      this.sum -= old;
      this.sumSquares -= old * old;
      this.count--;
    }
    this.samples[this.head] = interval;
    this.head = (this.head + 1) % n;
    this.sum += interval;
    this.sumSquares += interval * interval;
    this.count++;
    // Once per lap of the ring, re-add the window from scratch so rounding cannot drift.
    if (this.head === 0) {
      this.sum = 0;
      this.sumSquares = 0;
      for (let i = 0; i < this.count; i++) {
        const v = this.samples[i]!;
        this.sum += v;
        this.sumSquares += v * v;
      }
    }
    const mean = this.mean;
    const std = this.stdDeviation;
    this.suspectAfter = mean + this.params.suspectHeartbeatPauseMs + this.ySuspect * std;
    this.deadAfter = mean + this.params.acceptableHeartbeatPauseMs + this.yDead * std;
  }
}

/** A `DetectorFactory` for phi accrual with `options` (defaults scale with each peer's interval). */
export function phiAccrualDetector(options: PhiAccrualOptions = {}): DetectorFactory {
  // Validate once up front, so a bad option fails at configuration time, not at the first peer.
  resolvePhiParameters({ intervalMs: 1000 }, options);
  const options_ = { ...options };
  const d = PHI_DEFAULTS;
  const ySuspect = phiInverse(options.suspectThreshold ?? d.suspectThreshold);
  const yDead = phiInverse(options.deadThreshold ?? Math.max(d.deadThreshold, (options.suspectThreshold ?? d.suspectThreshold) + 1));
  return (timing, start) => new PhiAccrualDetector(resolvePhiParameters(timing, options_), start, ySuspect, yDead);
}
