/**
 * The detector configurations the benchmark measures: a sweep of each detector's
 * threshold (CTA's curve), and each detector at its defaults, two levels and hard cap.
 */
import { fixedTimeoutDetector, phiAccrualDetector, resolveHeartbeatConfig } from '@vigil/core';
import type { DetectorConfig } from './replay.js';

/** A hard cap no sweep point reaches: the sweep measures the suspect verdict alone. */
const NO_CAP = 1e9;

/** Suspect timeouts swept for the fixed detector, in intervals. */
export const FIXED_SWEEP = [1.05, 1.1, 1.15, 1.2, 1.25, 1.3, 1.4, 1.5, 1.6, 1.75, 2, 2.25, 2.5, 2.75, 3, 3.5, 4, 5] as const;
/** Suspect thresholds φ swept for the phi detector (other parameters at their defaults). */
export const PHI_SWEEP = [0.5, 0.75, 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 12, 16, 24, 32, 48, 64, 96] as const;

export function fixedSweep(multiple: number): DetectorConfig {
  return {
    family: 'fixed',
    label: `fixed ${multiple}×`,
    threshold: multiple,
    factory: fixedTimeoutDetector,
    timing: (intervalMs) => ({ intervalMs, suspectAfterMs: multiple * intervalMs, timeoutMs: NO_CAP, jitter: 0 }),
  };
}

export function phiSweep(threshold: number): DetectorConfig {
  return {
    family: 'phi',
    label: `phi ${threshold}`,
    threshold,
    // The dead verdict is out of reach, so every interval is learned.
    factory: phiAccrualDetector({ suspectThreshold: threshold, deadThreshold: 1e6 }),
    timing: (intervalMs) => ({ intervalMs, suspectAfterMs: NO_CAP, timeoutMs: NO_CAP, jitter: 0 }),
  };
}

/** Vigil's defaults for a trace's interval: suspect and timeout from `resolveHeartbeatConfig`. */
function defaultTiming(intervalMs: number) {
  const c = resolveHeartbeatConfig({ intervalMs });
  return { intervalMs, suspectAfterMs: c.suspectAfterMs, timeoutMs: c.timeoutMs, jitter: 0 };
}

export const DEFAULTS: readonly DetectorConfig[] = [
  { family: 'fixed', label: 'fixed (defaults)', threshold: Number.NaN, factory: fixedTimeoutDetector, timing: defaultTiming },
  { family: 'phi', label: 'phi (defaults)', threshold: Number.NaN, factory: phiAccrualDetector(), timing: defaultTiming },
];

export function sweepConfigs(): DetectorConfig[] {
  return [...FIXED_SWEEP.map(fixedSweep), ...PHI_SWEEP.map(phiSweep)];
}
