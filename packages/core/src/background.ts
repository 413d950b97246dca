/**
 * Background mode: a browser client reports its page `hidden`, `frozen` or `offline`
 * (a `status` message), and its server judges that peer by a longer, bounded timeout
 * until it reports `visible` again. This module owns the default bound and the rule.
 */
import { ConfigError, type Visibility } from '@vigil/protocol';
import type { PeerTiming } from './config.js';

/** Named defaults, ms. */
export const BACKGROUND_DEFAULTS = {
  /** Silence a backgrounded peer is allowed before it is declared dead. */
  hiddenTimeoutMs: 60_000,
  /** Largest accepted `hiddenTimeoutMs`: one hour. */
  maxHiddenTimeoutMs: 3_600_000,
} as const;

/**
 * Validates a `hiddenTimeoutMs` setting (0 turns background mode off).
 * @throws ConfigError unless an integer from 0 to `BACKGROUND_DEFAULTS.maxHiddenTimeoutMs`.
 */
export function resolveHiddenTimeout(value: number = BACKGROUND_DEFAULTS.hiddenTimeoutMs): number {
  if (!Number.isInteger(value) || value < 0 || value > BACKGROUND_DEFAULTS.maxHiddenTimeoutMs) {
    throw new ConfigError('hiddenTimeoutMs', `must be an integer number of ms from 0 to ${BACKGROUND_DEFAULTS.maxHiddenTimeoutMs}, got ${String(value)}`);
  }
  return value;
}

/**
 * The silence (ms) after which a peer in `visibility` is dead, or 0 for "its normal timing":
 * `visible`, or background mode off. Never below the peer's own timeout.
 */
export function backgroundTimeout(visibility: Visibility, timing: PeerTiming, hiddenTimeoutMs: number): number {
  if (visibility === 'visible' || hiddenTimeoutMs === 0) return 0;
  return Math.max(timing.timeoutMs, hiddenTimeoutMs);
}
