/**
 * Server limits with safe defaults, beyond the frame size and the handshake deadline:
 * per-address connection rate (a token bucket per IP; close 4009), the per-connection
 * send-buffer cap (enforced by `Connection`; close 4005), and the ping-flood policy
 * (pings faster than the advertised minimum earn strikes, then goaway + close 4006,
 * as gRPC core's `too_many_pings`). Each refusal has a close code and a metric.
 */
import { DEFAULT_MAX_SEND_BUFFER_BYTES } from '@vigil/core';
import { ConfigError, DEFAULT_MAX_FRAME_BYTES } from '@vigil/protocol';

/** Named defaults for the limits a `VigilServer` applies unless told otherwise. */
export const LIMIT_DEFAULTS = {
  /** Simultaneous connections, handshaking or live (close 4008 beyond). */
  maxConnections: 20_000,
  /** New connections per second per remote IP address, refilled continuously (close 4009 beyond). */
  connectionsPerSecond: 100,
  /** Connections one address may open at once before the rate applies. */
  connectionBurst: 200,
  /** Remote addresses tracked by the rate limiter before idle ones are forgotten. */
  rateLimitAddresses: 10_000,
  /** Bytes a connection may hold unsent before its peer is a slow consumer (close 4005): 8 MiB. */
  maxSendBufferBytes: DEFAULT_MAX_SEND_BUFFER_BYTES,
  /** Least ms between a client's own pings, advertised in `welcome.options.minPingInterval`. */
  minPingIntervalMs: 1000,
  /** Early pings tolerated in a row; the next one earns goaway + close 4006. */
  maxPingStrikes: 2,
} as const;

export interface ConnectionRateOptions {
  /** Sustained new connections per second per remote IP. Default 100. */
  readonly perSecond?: number;
  /** Connections one IP may open in a burst. Default 200. */
  readonly burst?: number;
}

/** Why a connection was refused before or at the handshake; the label of `vigil_connections_refused_total`. */
export type RefusalReason =
  | 'server-full'
  | 'rate-limited'
  | 'shutting-down'
  | 'unauthorized'
  | 'auth-error'
  | 'version-mismatch'
  | 'resume-rejected'
  | 'kernel-options'
  | 'tls-error';

/** The IP part of a `host:port` remote address. */
export function hostOf(remote: string): string {
  const colon = remote.lastIndexOf(':');
  return colon < 0 ? remote : remote.slice(0, colon);
}

/**
 * A token bucket per remote address: `burst` tokens, refilled at `perSecond`. Memory is
 * bounded: past `maxAddresses`, buckets that have refilled (equivalent to none) are
 * dropped, then the oldest.
 */
export class ConnectionRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  readonly perSecond: number;
  readonly burst: number;

  constructor(
    options: ConnectionRateOptions = {},
    private readonly maxAddresses: number = LIMIT_DEFAULTS.rateLimitAddresses,
  ) {
    this.perSecond = options.perSecond ?? LIMIT_DEFAULTS.connectionsPerSecond;
    this.burst = options.burst ?? LIMIT_DEFAULTS.connectionBurst;
    if (!(this.perSecond > 0 && Number.isFinite(this.perSecond))) throw new ConfigError('connectionRate.perSecond', `must be a positive number, got ${String(options.perSecond)}`);
    if (!(Number.isInteger(this.burst) && this.burst >= 1)) throw new ConfigError('connectionRate.burst', `must be a positive integer, got ${String(options.burst)}`);
  }

  /** Addresses tracked. */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token for `address` at clock time `now` (ms); false when it has none left. */
  take(address: string, now: number): boolean {
    let bucket = this.buckets.get(address);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxAddresses) this.prune(now);
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(address, bucket);
    } else {
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) * this.perSecond) / 1000);
      bucket.at = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private prune(now: number): void {
    const refillMs = (this.burst * 1000) / this.perSecond;
    for (const [address, b] of this.buckets) if (now - b.at >= refillMs) this.buckets.delete(address);
    // Still full (many addresses at once): forget the oldest half; each comes back with a full bucket.
    let excess = this.buckets.size - Math.floor(this.maxAddresses / 2);
    if (this.buckets.size < this.maxAddresses) return;
    for (const address of this.buckets.keys()) {
      if (excess-- <= 0) break;
      this.buckets.delete(address);
    }
  }
}

/**
 * Ping-flood policy for one connection: a client ping arriving less than half of
 * `minIntervalMs` after its previous one is a strike, an on-time ping clears them, and
 * more than `maxStrikes` in a row is a flood (gRPC core: `GRPC_ARG_HTTP2_MAX_PING_STRIKES`).
 * Half, because arrival gaps jitter: a ping the client sent on time arrives early by as
 * much as the one before it was delayed, and a flood is orders of magnitude faster anyway.
 */
export class PingStrikes {
  private last = Number.NEGATIVE_INFINITY;
  private count = 0;

  constructor(
    readonly minIntervalMs: number,
    readonly maxStrikes: number,
  ) {}

  get strikes(): number {
    return this.count;
  }

  /** A client ping at `now` (ms): `ok`, `strike`, or `flood` once the strikes run out. */
  observe(now: number): 'ok' | 'strike' | 'flood' {
    const early = now - this.last < this.minIntervalMs / 2;
    this.last = now;
    if (!early) {
      this.count = 0;
      return 'ok';
    }
    return ++this.count > this.maxStrikes ? 'flood' : 'strike';
  }
}

/** Validated limits of one server. */
export interface ServerLimits {
  readonly maxConnections: number;
  readonly connectionRate: ConnectionRateLimiter | null;
  readonly maxSendBufferBytes: number;
  readonly minPingIntervalMs: number;
  readonly maxPingStrikes: number;
}

/** Fills defaults and validates. @throws ConfigError naming the field. */
export function resolveLimits(
  options: {
    readonly maxConnections?: number;
    readonly connectionRate?: ConnectionRateOptions | false;
    readonly maxSendBufferBytes?: number;
    readonly minPingIntervalMs?: number;
    readonly maxPingStrikes?: number;
  },
  maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES,
): ServerLimits {
  const d = LIMIT_DEFAULTS;
  const maxConnections = options.maxConnections ?? d.maxConnections;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new ConfigError('maxConnections', `must be a positive integer, got ${String(options.maxConnections)}`);
  }
  const maxSendBufferBytes = options.maxSendBufferBytes ?? Math.max(d.maxSendBufferBytes, 2 * maxFrameBytes);
  if (!Number.isInteger(maxSendBufferBytes) || maxSendBufferBytes < maxFrameBytes) {
    throw new ConfigError('maxSendBufferBytes', `must be an integer of at least maxFrameBytes (${maxFrameBytes}), got ${String(options.maxSendBufferBytes)}`);
  }
  const minPingIntervalMs = options.minPingIntervalMs ?? d.minPingIntervalMs;
  if (!Number.isInteger(minPingIntervalMs) || minPingIntervalMs < 0) {
    throw new ConfigError('minPingIntervalMs', `must be a non-negative integer number of ms, got ${String(options.minPingIntervalMs)}`);
  }
  const maxPingStrikes = options.maxPingStrikes ?? d.maxPingStrikes;
  if (!Number.isInteger(maxPingStrikes) || maxPingStrikes < 0) {
    throw new ConfigError('maxPingStrikes', `must be a non-negative integer, got ${String(options.maxPingStrikes)}`);
  }
  const rate = options.connectionRate;
  return {
    maxConnections,
    connectionRate: rate === false ? null : new ConnectionRateLimiter(rate ?? {}),
    maxSendBufferBytes,
    minPingIntervalMs,
    maxPingStrikes,
  };
}
