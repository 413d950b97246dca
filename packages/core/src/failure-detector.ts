/**
 * The failure-detector port: pure logic fed with arrival times, asked for a verdict.
 * The peer monitor owns scheduling and the hard cap on silence; a detector only
 * judges. This file ships the fixed-timeout detector; adaptive ones plug in the same way.
 */
import type { PeerTiming } from './config.js';

export type Verdict = 'alive' | 'suspect' | 'dead';

export interface FailureDetector {
  /**
   * Proof of life at `now` (ms). `heartbeat` is true for ping/pong frames, false for
   * any other inbound frame (detectors that learn inter-arrival times may skip those).
   */
  record(now: number, heartbeat: boolean): void;
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
