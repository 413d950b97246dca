/**
 * Graceful drain: reconnect delays spread over a window, so that clients leaving a
 * server come back (to its successor) in a smooth wave instead of a storm. Each client
 * gets its own slot of the window in a random order, jittered within the slot
 * (stratified sampling): the wave is even at any scale, and no two servers' waves align.
 */
import { ConfigError } from '@vigil/protocol';

/** Named defaults of `VigilServer.drain()`. */
export const DRAIN_DEFAULTS = {
  /** Ms over which clients are told to come back. */
  windowMs: 10_000,
} as const;

export interface DrainOptions {
  /** Ms over which reconnect delays are spread, [0, windowMs). Default 10000. */
  readonly windowMs?: number;
  /**
   * Ms after the drain starts at which transports that have not ended yet are destroyed.
   * Default: the server's `lingerMs` (the wait for clients to close their side).
   */
  readonly deadlineMs?: number;
  /** Reason sent in each `goaway` and `close`. Default 'server draining'. */
  readonly reason?: string;
}

/** Validated drain settings. */
export interface DrainPlan {
  readonly windowMs: number;
  readonly deadlineMs: number;
  readonly reason: string;
}

/** Fills defaults and validates. @throws ConfigError naming `drain.windowMs` or `drain.deadlineMs`. */
export function resolveDrain(options: DrainOptions, lingerMs: number): DrainPlan {
  const windowMs = options.windowMs ?? DRAIN_DEFAULTS.windowMs;
  const deadlineMs = options.deadlineMs ?? lingerMs;
  if (!Number.isInteger(windowMs) || windowMs < 0) throw new ConfigError('drain.windowMs', `must be a non-negative integer number of ms, got ${String(options.windowMs)}`);
  if (!Number.isInteger(deadlineMs) || deadlineMs < 0) throw new ConfigError('drain.deadlineMs', `must be a non-negative integer number of ms, got ${String(options.deadlineMs)}`);
  return { windowMs, deadlineMs, reason: options.reason ?? 'server draining' };
}

/**
 * `n` reconnect delays (integer ms) in [0, windowMs): slot `i` of a random permutation
 * covers [i, i + 1) × windowMs / n, and the delay is uniform within it.
 */
export function spreadDelays(n: number, windowMs: number, random: () => number = Math.random): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.map((slot) => Math.min(windowMs > 0 ? windowMs - 1 : 0, Math.floor(((slot + random()) * windowMs) / n)));
}
