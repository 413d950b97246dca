import { ConfigError } from '@vigil/protocol';
import type { PeerTiming } from '../src/config.js';
import { selectDetector } from '../src/failure-detector.js';
import { FixedTimeoutDetector } from '../src/failure-detector.js';
import {
  PHI_DEFAULTS,
  PhiAccrualDetector,
  phi,
  phiAccrualDetector,
  phiInverse,
  resolvePhiParameters,
  type PhiAccrualParameters,
} from '../src/phi-accrual-detector.js';

const timing: PeerTiming = { intervalMs: 1000, suspectAfterMs: 1500, timeoutMs: 3000, jitter: 0 };

/** Small window, no pause, a low floor: every number below can be worked by hand. */
const params: PhiAccrualParameters = {
  suspectThreshold: 3,
  deadThreshold: 8,
  windowSize: 4,
  minStdDeviationMs: 10,
  acceptableHeartbeatPauseMs: 0,
  suspectHeartbeatPauseMs: 0,
  firstHeartbeatEstimateMs: 1000,
};

/** Records heartbeats after each gap in turn, starting from `start`; returns the last arrival. */
function feed(d: PhiAccrualDetector, start: number, gaps: number[]): number {
  let t = start;
  for (const gap of gaps) {
    t += gap;
    d.record(t, true);
  }
  return t;
}

describe('phi()', () => {
  it('matches hand-worked values: y = (t − mean) / std, φ = −log10(e / (1 + e)), e = exp(−y(1.5976 + 0.070566 y²))', () => {
    // y = 2: e = exp(−3.760528) = 0.0232813…, φ = −log10(0.0227516…) = 1.642828.
    expect(phi(1200, 1000, 100)).toBeCloseTo(1.6428278855, 9);
    // y = 0: e = 1, φ = −log10(1/2).
    expect(phi(1000, 1000, 100)).toBeCloseTo(Math.log10(2), 12);
    expect(phi(1100, 1000, 100)).toBeCloseTo(0.7995083208, 9);
    expect(phi(1400, 1000, 100)).toBeCloseTo(4.7366945827, 9);
    expect(phi(1600, 1000, 100)).toBeCloseTo(10.7826008583, 9);
    expect(phi(1700, 1000, 100)).toBeCloseTo(15.3685256226, 9);
  });

  it("reproduces Akka's table of realistic values (AccrualFailureDetectorSpec, mean 1000, std 100, ±0.1)", () => {
    const table: [number, number][] = [
      [0, 0],
      [500, 0.1],
      [1000, 0.3],
      [1200, 1.6],
      [1400, 4.7],
      [1600, 10.8],
      [1700, 15.3],
    ];
    for (const [t, expected] of table) expect(Math.abs(phi(t, 1000, 100) - expected)).toBeLessThanOrEqual(0.1);
  });

  it('stays non-negative far below the mean and never NaN far above it', () => {
    expect(Math.abs(phi(10, 0, 1) - 38)).toBeLessThanOrEqual(1);
    expect(phi(-25, 0, 1)).toBe(0);
    // Past double precision the tail probability is 0: φ is +∞, never NaN.
    expect(phi(1e6, 0, 1)).toBe(Number.POSITIVE_INFINITY);
  });

  it('approximates the normal tail: 1 − 10^−φ is within 0.001 of Φ(y) at Akka’s check points', () => {
    const cdf = (p: number) => 1 - 10 ** -p;
    const expected: [number, number][] = [
      [0, 0.5],
      [6, 0.7257],
      [15, 0.9332],
      [20, 0.97725],
      [25, 0.99379],
      [35, 0.99977],
      [40, 0.99997],
    ];
    for (const [t, p] of expected) expect(Math.abs(cdf(phi(t, 0, 10)) - p)).toBeLessThanOrEqual(0.001);
  });
});

describe('phiInverse()', () => {
  it.each([0.5, 1, 3, 8, 12, 16, 30, 100])('gives the standardized silence at which φ reaches %p', (threshold) => {
    const y = phiInverse(threshold);
    expect(phi(y, 0, 1)).toBeCloseTo(threshold, 9);
    expect(phi(y - 1e-6, 0, 1)).toBeLessThan(threshold);
  });

  it('matches hand-worked roots of A3·y³ + A1·y = ln(10^φ − 1)', () => {
    // φ = 1: ln 9 = 2.1972…; the root is near the normal 90% quantile 1.2816.
    expect(phiInverse(1)).toBeCloseTo(1.2822153449666955, 12);
    expect(phiInverse(3)).toBeCloseTo(3.0589378194460943, 12);
    expect(phiInverse(8)).toBeCloseTo(5.225986644093561, 12);
  });

  it('refuses a threshold that is not positive', () => {
    expect(() => phiInverse(0)).toThrow(RangeError);
  });
});

describe('PhiAccrualDetector', () => {
  it("starts from Akka's bootstrap: two samples, estimate ± estimate/4 (mean 1000, std 250)", () => {
    const d = new PhiAccrualDetector(params, 0);
    expect([d.sampleCount, d.mean, d.stdDeviation]).toStrictEqual([2, 1000, 250]);
    expect(d.thresholds.suspectAfterMs).toBeCloseTo(1000 + 3.0589378194460943 * 250, 9);
    expect(d.thresholds.deadAfterMs).toBeCloseTo(1000 + 5.225986644093561 * 250, 9);
  });

  it('learns heartbeat intervals in a bounded window; the oldest samples leave it', () => {
    const d = new PhiAccrualDetector(params, 0);
    feed(d, 0, [900, 1100]);
    // Window 4: 750, 1250, 900, 1100.
    expect([d.sampleCount, d.mean]).toStrictEqual([4, 1000]);
    expect(d.stdDeviation).toBeCloseTo(Math.sqrt((250 ** 2 * 2 + 100 ** 2 * 2) / 4), 9);
    feed(d, 2000, [1000, 1000]);
    // The bootstrap is gone: 900, 1100, 1000, 1000.
    expect([d.sampleCount, d.mean]).toStrictEqual([4, 1000]);
    expect(d.stdDeviation).toBeCloseTo(Math.sqrt((100 ** 2 * 2) / 4), 9);
  });

  it('floors the deviation at minStdDeviationMs and adds each verdict’s pause to the mean', () => {
    const d = new PhiAccrualDetector({ ...params, minStdDeviationMs: 40, acceptableHeartbeatPauseMs: 300, suspectHeartbeatPauseMs: 100 }, 0);
    const last = feed(d, 0, [1000, 1000, 1000, 1000]);
    expect([d.mean, d.stdDeviation]).toStrictEqual([1000, 40]);
    // Silence 1300 is Akka's shifted mean: φ = log10 2.
    expect(d.phi(last + 1300)).toBeCloseTo(Math.log10(2), 12);
    expect(d.phi(last + 1100, 100)).toBeCloseTo(Math.log10(2), 12);
    expect(d.thresholds.deadAfterMs).toBeCloseTo(1300 + 5.225986644093561 * 40, 9);
    expect(d.thresholds.suspectAfterMs).toBeCloseTo(1100 + 3.0589378194460943 * 40, 9);
  });

  it('turns suspect and dead exactly where φ reaches each threshold, and names those times in advance', () => {
    const d = new PhiAccrualDetector({ ...params, minStdDeviationMs: 50 }, 0);
    const last = feed(d, 0, [1000, 1000, 1000, 1000]);
    const { suspectAfterMs, deadAfterMs } = d.thresholds;
    const suspectAt = last + suspectAfterMs;
    const deadAt = last + deadAfterMs;
    expect(suspectAt).toBeCloseTo(4000 + 1000 + 3.0589378194460943 * 50, 9);
    expect(d.phi(suspectAt, 0)).toBeCloseTo(3, 9);
    expect(d.phi(deadAt)).toBeCloseTo(8, 9);
    expect([d.verdict(suspectAt - 1e-6), d.verdict(suspectAt), d.verdict(deadAt - 1e-6), d.verdict(deadAt)]).toStrictEqual([
      'alive',
      'suspect',
      'suspect',
      'dead',
    ]);
    expect(d.nextCheckAt(last)).toBe(suspectAt);
    expect(d.nextCheckAt(suspectAt - 1)).toBe(suspectAt);
    expect(d.nextCheckAt(suspectAt)).toBe(deadAt);
    expect(d.nextCheckAt(deadAt)).toBe(Number.POSITIVE_INFINITY);
  });

  it('learns an interval past the suspect line but short of the dead line', () => {
    const d = new PhiAccrualDetector({ ...params, minStdDeviationMs: 50 }, 0);
    const last = feed(d, 0, [1000, 1000, 1000, 1000]);
    // Suspect after 1153 ms, dead after 1261 ms.
    d.record(last + 1200, true);
    expect(d.mean).toBe((1000 * 3 + 1200) / 4);
  });

  it('does not learn the first interval after a gap past the dead line (Akka), but counts the arrival', () => {
    const d = new PhiAccrualDetector({ ...params, minStdDeviationMs: 50 }, 0);
    const last = feed(d, 0, [1000, 1000, 1000, 1000]);
    const before = [d.sampleCount, d.mean, d.stdDeviation];
    const gap = Math.ceil(d.thresholds.deadAfterMs);
    d.record(last + gap, true);
    expect([d.sampleCount, d.mean, d.stdDeviation]).toStrictEqual(before);
    expect(d.verdict(last + gap)).toBe('alive');
    // The next interval is measured from that arrival and learned.
    d.record(last + gap + 1250, true);
    expect(d.mean).toBe((1000 * 3 + 1250) / 4);
  });

  it('takes any frame as proof of life but learns only heartbeat-to-heartbeat intervals', () => {
    const d = new PhiAccrualDetector(params, 0);
    d.record(300, false);
    d.record(700, false);
    expect(d.sampleCount).toBe(2);
    expect(d.verdict(700 + d.thresholds.suspectAfterMs - 1)).toBe('alive');
    d.record(1000, true);
    expect([d.sampleCount, d.mean]).toStrictEqual([3, (750 + 1250 + 1000) / 3]);
  });

  it('starts the next interval at a heartbeat it is told not to learn', () => {
    const d = new PhiAccrualDetector(params, 0);
    d.record(900, true, false);
    expect(d.sampleCount).toBe(2);
    d.record(1900, true);
    expect([d.sampleCount, d.mean]).toStrictEqual([3, (750 + 1250 + 1000) / 3]);
  });

  it('keeps exact sums across many laps of the ring', () => {
    const d = new PhiAccrualDetector({ ...params, windowSize: 7, minStdDeviationMs: 0.001 }, 0);
    let t = 0;
    for (let i = 0; i < 100_003; i++) {
      t += 1000 + (i % 7) * 0.1;
      d.record(t, true);
    }
    // The window holds one of each of 1000.0 … 1000.6.
    // (Each interval is a difference of times near 1e8 ms, exact to about 1e-8.)
    expect(d.mean).toBeCloseTo(1000.3, 6);
    expect(d.stdDeviation).toBeCloseTo(0.2, 6);
  });
});

describe('phiAccrualDetector() and resolvePhiParameters()', () => {
  it('scales the default durations with each peer’s interval', () => {
    expect(resolvePhiParameters({ intervalMs: 2000 })).toStrictEqual({
      suspectThreshold: PHI_DEFAULTS.suspectThreshold,
      deadThreshold: PHI_DEFAULTS.deadThreshold,
      windowSize: PHI_DEFAULTS.windowSize,
      minStdDeviationMs: 2000 * PHI_DEFAULTS.minStdDeviationFactor,
      acceptableHeartbeatPauseMs: 2000 * PHI_DEFAULTS.acceptableHeartbeatPauseFactor,
      suspectHeartbeatPauseMs: 2000 * PHI_DEFAULTS.suspectHeartbeatPauseFactor,
      firstHeartbeatEstimateMs: 2000 * PHI_DEFAULTS.firstHeartbeatEstimateFactor,
    });
    const d = phiAccrualDetector()({ ...timing, intervalMs: 500 }, 0) as PhiAccrualDetector;
    expect(d.params.minStdDeviationMs).toBe(500 * PHI_DEFAULTS.minStdDeviationFactor);
    expect(d.mean).toBe(500 * PHI_DEFAULTS.firstHeartbeatEstimateFactor);
  });

  it('keeps durations given in ms whatever the interval', () => {
    const factory = phiAccrualDetector({ suspectThreshold: 2, deadThreshold: 9, minStdDeviationMs: 77, acceptableHeartbeatPauseMs: 0, firstHeartbeatEstimateMs: 400 });
    const d = factory({ ...timing, intervalMs: 5000 }, 10) as PhiAccrualDetector;
    expect(d.params).toStrictEqual({
      suspectThreshold: 2,
      deadThreshold: 9,
      windowSize: 100,
      minStdDeviationMs: 77,
      acceptableHeartbeatPauseMs: 0,
      suspectHeartbeatPauseMs: 0,
      firstHeartbeatEstimateMs: 400,
    });
    expect(d.thresholds.suspectAfterMs).toBeCloseTo(400 + phiInverse(2) * 100, 9);
  });

  it('raises the dead threshold above a suspect threshold given alone', () => {
    expect(resolvePhiParameters({ intervalMs: 1000 }, { suspectThreshold: 10 }).deadThreshold).toBe(11);
  });

  it.each([
    ['phi.suspectThreshold', { suspectThreshold: 0 }],
    ['phi.deadThreshold', { suspectThreshold: 5, deadThreshold: 5 }],
    ['phi.windowSize', { windowSize: 1 }],
    ['phi.windowSize', { windowSize: 2.5 }],
    ['phi.minStdDeviationMs', { minStdDeviationMs: 0 }],
    ['phi.acceptableHeartbeatPauseMs', { acceptableHeartbeatPauseMs: -1 }],
    ['phi.suspectHeartbeatPauseMs', { acceptableHeartbeatPauseMs: 100, suspectHeartbeatPauseMs: 200 }],
    ['phi.firstHeartbeatEstimateMs', { firstHeartbeatEstimateMs: Number.NaN }],
  ] as const)('refuses a bad %s at configuration time: %j', (field, options) => {
    let caught: unknown;
    try {
      phiAccrualDetector(options);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).field).toBe(field);
  });
});

describe('selectDetector()', () => {
  it('picks by name or passes a factory through', () => {
    expect(selectDetector('fixed')(timing, 0)).toBeInstanceOf(FixedTimeoutDetector);
    expect(selectDetector()(timing, 0)).toBeInstanceOf(FixedTimeoutDetector);
    const d = selectDetector('phi', { suspectThreshold: 2 })(timing, 0) as PhiAccrualDetector;
    expect(d).toBeInstanceOf(PhiAccrualDetector);
    expect(d.params.suspectThreshold).toBe(2);
    const own = () => new FixedTimeoutDetector(timing, 0);
    expect(selectDetector(own)).toBe(own);
  });

  it('refuses phi options with another detector, and unknown names', () => {
    expect(() => selectDetector('fixed', { suspectThreshold: 2 })).toThrow("phi: phi options apply only with detector 'phi', got detector 'fixed'");
    expect(() => selectDetector('nope' as 'fixed')).toThrow(`detector: must be 'fixed', 'phi' or a factory, got "nope"`);
  });
});
