/**
 * Reconnect delays: exponential backoff with full jitter ("Exponential Backoff And
 * Jitter", AWS Architecture Blog, 2015): delay = random(0, min(max, initial × 2^attempt)).
 */
import { ConfigError } from '@vigil/protocol';

export interface BackoffOptions {
  /** First ceiling, ms. Default 100. */
  readonly initialMs?: number;
  /** Largest ceiling, ms. Default 5000. */
  readonly maxMs?: number;
  /** Source of randomness in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
}

export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 100;
    this.maxMs = options.maxMs ?? 5000;
    this.random = options.random ?? Math.random;
    if (!(this.initialMs > 0)) throw new ConfigError('backoff.initialMs', `must be positive, got ${this.initialMs}`);
    if (!(this.maxMs >= this.initialMs)) throw new ConfigError('backoff.maxMs', `must be at least initialMs (${this.initialMs}), got ${this.maxMs}`);
  }

  /** Attempts made since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The ceiling for the next attempt, ms. */
  ceiling(): number {
    return Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
  }

  /** Delay before the next attempt, ms; advances the attempt count. */
  next(): number {
    const delay = Math.floor(this.random() * this.ceiling());
    this.attempt++;
    return delay;
  }

  reset(): void {
    this.attempt = 0;
  }
}
