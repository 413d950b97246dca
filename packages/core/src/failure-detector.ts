/**
 * The failure-detector port: pure logic fed with arrival times, asked for a verdict.
 * The peer monitor owns scheduling, the hard cap on silence and own-stall credit (it
 * hands detectors a clock with our own stalls cut out); a detector only judges. This
 * file ships the fixed-timeout detector and the choice between it and phi accrual.
 */
import { ConfigError } from '@vigil/protocol';
import type { PeerTiming } from './config.js';
import { phiAccrualDetector, type PhiAccrualOptions } from './phi-accrual-detector.js';

export type Verdict = 'alive' | 'suspect' | 'dead';

export interface FailureDetector {
  /**
   * Proof of life at `now` (ms). `heartbeat` is true for ping/pong frames, false for
   * any other inbound frame (detectors that learn inter-arrival times may skip those).
   * `learn` (default: `heartbeat`) is false for a heartbeat whose interval says nothing
   * about the peer (the backlog read right after our own stall); it still starts the
   * next interval.
   */
  record(now: number, heartbeat: boolean, learn?: boolean): void;
  /** The verdict at `now`. */
  verdict(now: number): Verdict;
  /** The earliest time (ms) at which the verdict may change if nothing arrives. */
  nextCheckAt(now: number): number;
}

/** Creates one detector per peer; `start` is when monitoring began (counts as an arrival). */
export type DetectorFactory = (timing: PeerTiming, start: number) => FailureDetector;

/**
 * Suspect after `suspectAfterMs` of silence, dead after `timeoutMs`: what
 * Socket.IO, ws recipes and most servers do, and the baseline adaptive detectors are measured against.
 */
export class FixedTimeoutDetector implements FailureDetector {
  private lastSeen: number;

  constructor(
    private readonly timing: PeerTiming,
    start: number,
  ) {
    this.lastSeen = start;
  }

  record(now: number): void {
    this.lastSeen = now;
  }

  verdict(now: number): Verdict {
    const silence = now - this.lastSeen;
    if (silence >= this.timing.timeoutMs) return 'dead';
    if (silence >= this.timing.suspectAfterMs) return 'suspect';
    return 'alive';
  }

  nextCheckAt(now: number): number {
    const suspectAt = this.lastSeen + this.timing.suspectAfterMs;
    return now < suspectAt ? suspectAt : this.lastSeen + this.timing.timeoutMs;
  }
}

export const fixedTimeoutDetector: DetectorFactory = (timing, start) => new FixedTimeoutDetector(timing, start);

/** A detector by name (`'fixed'`, `'phi'`) or any factory. */
export type DetectorChoice = 'fixed' | 'phi' | DetectorFactory;

/**
 * The factory for a choice; `phi` options apply to `'phi'` only.
 * @throws ConfigError for an unknown name, phi options with another detector, or bad phi options.
 */
export function selectDetector(choice: DetectorChoice = 'fixed', phi?: PhiAccrualOptions): DetectorFactory {
  if (phi !== undefined && choice !== 'phi') throw new ConfigError('phi', `phi options apply only with detector 'phi', got detector ${typeof choice === 'function' ? 'factory' : `'${String(choice)}'`}`);
  if (typeof choice === 'function') return choice;
  if (choice === 'fixed') return fixedTimeoutDetector;
  if (choice === 'phi') return phiAccrualDetector(phi);
  throw new ConfigError('detector', `must be 'fixed', 'phi' or a factory, got ${JSON.stringify(choice)}`);
}
