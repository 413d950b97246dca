/**
 * Heartbeat timing: named defaults, validation with reasons, and the clamp a server
 * applies to a client's requested interval. Every value is in milliseconds.
 */
import { ConfigError } from '@vigil/protocol';

/** Named defaults (ms unless stated). Documented in the README's configuration table. */
export const HEARTBEAT_DEFAULTS = {
  intervalMs: 2000,
  timeoutMs: 6000,
  suspectFactor: 1.5,
  jitter: 0.1,
  tickMs: 50,
  handshakeTimeoutMs: 5000,
  minIntervalMs: 100,
  maxIntervalMs: 60_000,
} as const;

/** User-facing heartbeat options; every field is optional. */
export interface HeartbeatOptions {
  /** Ms between the server's pings. Default 2000. */
  readonly intervalMs?: number;
  /** Ms of silence after which a peer is dead; must exceed `intervalMs`. Default 6000. */
  readonly timeoutMs?: number;
  /** Ms of silence after which a peer is suspect; between interval and timeout. Default 1.5 × interval (capped below timeout). */
  readonly suspectAfterMs?: number;
  /** Ping jitter as a fraction of the interval, 0 to 0.5: each gap is interval × (1 ± jitter). Default 0.1. */
  readonly jitter?: number;
  /** Resolution of the shared timer wheel, ms; at most a quarter of the interval. Default min(50, interval / 10). */
  readonly tickMs?: number;
  /** Ms a new connection has to complete the handshake. Default 5000. */
  readonly handshakeTimeoutMs?: number;
  /** Smallest interval a client may request, ms. Default max(100, 10 × tickMs), at most intervalMs. */
  readonly minIntervalMs?: number;
  /** Largest interval a client may request, ms. Default 60000. */
  readonly maxIntervalMs?: number;
}

/** Validated, complete timing. */
export interface HeartbeatConfig {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly suspectAfterMs: number;
  readonly jitter: number;
  readonly tickMs: number;
  readonly handshakeTimeoutMs: number;
  readonly minIntervalMs: number;
  readonly maxIntervalMs: number;
}

function positiveInt(field: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new ConfigError(field, `must be a positive integer number of ms, got ${String(value)}`);
  return value;
}

/**
 * Fills defaults and validates.
 * @throws ConfigError naming the field and the reason (e.g. a timeout not above the interval).
 */
export function resolveHeartbeatConfig(options: HeartbeatOptions = {}): HeartbeatConfig {
  const d = HEARTBEAT_DEFAULTS;
  const intervalMs = positiveInt('intervalMs', options.intervalMs ?? d.intervalMs);
  const timeoutMs = positiveInt(
    'timeoutMs',
    options.timeoutMs ?? (options.intervalMs === undefined ? d.timeoutMs : intervalMs * (d.timeoutMs / d.intervalMs)),
  );
  if (timeoutMs <= intervalMs) {
    throw new ConfigError('timeoutMs', `must be greater than intervalMs (${intervalMs}), got ${timeoutMs}: a peer would be declared dead before its next heartbeat is due`);
  }
  const jitter = options.jitter ?? d.jitter;
  if (!(jitter >= 0 && jitter <= 0.5)) throw new ConfigError('jitter', `must be between 0 and 0.5, got ${String(jitter)}`);
  const suspectAfterMs = positiveInt(
    'suspectAfterMs',
    options.suspectAfterMs ?? Math.min(Math.round(intervalMs * d.suspectFactor), Math.round((intervalMs + timeoutMs) / 2)),
  );
  if (suspectAfterMs <= intervalMs * (1 + jitter) || suspectAfterMs >= timeoutMs) {
    throw new ConfigError(
      'suspectAfterMs',
      `must lie between interval × (1 + jitter) (${Math.round(intervalMs * (1 + jitter))}) and timeoutMs (${timeoutMs}), got ${suspectAfterMs}`,
    );
  }
  const tickMs = positiveInt('tickMs', options.tickMs ?? Math.max(1, Math.min(d.tickMs, Math.floor(intervalMs / 10))));
  if (tickMs > intervalMs / 4) throw new ConfigError('tickMs', `must be at most a quarter of intervalMs (${intervalMs / 4}), got ${tickMs}`);
  const handshakeTimeoutMs = positiveInt('handshakeTimeoutMs', options.handshakeTimeoutMs ?? d.handshakeTimeoutMs);
  // A client-requested interval below ten ticks would make the wheel's granularity a large share of the timeout.
  const minIntervalMs = positiveInt('minIntervalMs', options.minIntervalMs ?? Math.min(intervalMs, Math.max(d.minIntervalMs, 10 * tickMs)));
  const maxIntervalMs = positiveInt('maxIntervalMs', options.maxIntervalMs ?? Math.max(d.maxIntervalMs, intervalMs));
  if (minIntervalMs > intervalMs || maxIntervalMs < intervalMs) {
    throw new ConfigError('intervalMs', `must lie between minIntervalMs (${minIntervalMs}) and maxIntervalMs (${maxIntervalMs}), got ${intervalMs}`);
  }
  return { intervalMs, timeoutMs, suspectAfterMs, jitter, tickMs, handshakeTimeoutMs, minIntervalMs, maxIntervalMs };
}

/** Timing applied to one peer (a client may have requested its own interval). */
export interface PeerTiming {
  readonly intervalMs: number;
  readonly suspectAfterMs: number;
  readonly timeoutMs: number;
  readonly jitter: number;
}

/**
 * The timing a server imposes on a client that requested `requestedMs`: the interval
 * is clamped to [minIntervalMs, maxIntervalMs], suspect and timeout scale with it.
 */
export function negotiateTiming(config: HeartbeatConfig, requestedMs?: number): PeerTiming {
  if (requestedMs === undefined || requestedMs === config.intervalMs) return config;
  const intervalMs = Math.min(config.maxIntervalMs, Math.max(config.minIntervalMs, Math.round(requestedMs)));
  const scale = intervalMs / config.intervalMs;
  return {
    intervalMs,
    suspectAfterMs: Math.round(config.suspectAfterMs * scale),
    timeoutMs: Math.round(config.timeoutMs * scale),
    jitter: config.jitter,
  };
}

/**
 * The client's side of a negotiated timing: the server pings every `intervalMs` and
 * kills after `timeoutMs`; the client's watchdog declares the server dead after
 * `intervalMs + timeoutMs` without any inbound frame (as Engine.IO clients do).
 */
export function clientTiming(intervalMs: number, timeoutMs: number): PeerTiming {
  return { intervalMs, suspectAfterMs: timeoutMs, timeoutMs: intervalMs + timeoutMs, jitter: 0 };
}
