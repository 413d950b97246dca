import { ConfigError, ErrorCode } from '@vigil/protocol';
import { HEARTBEAT_DEFAULTS, clientTiming, negotiateTiming, resolveHeartbeatConfig } from '../src/config.js';
import type { HeartbeatOptions } from '../src/config.js';

function refusal(options: HeartbeatOptions): ConfigError {
  let caught: unknown;
  try {
    resolveHeartbeatConfig(options);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  const ce = caught as ConfigError;
  expect(ce.code).toBe(ErrorCode.InvalidConfig);
  expect(ce.message.startsWith(`${ce.field}: `)).toBe(true);
  return ce;
}

describe('resolveHeartbeatConfig', () => {
  it('fills every default', () => {
    expect(resolveHeartbeatConfig()).toStrictEqual({
      intervalMs: 2000,
      timeoutMs: 6000,
      suspectAfterMs: 3000,
      jitter: 0.1,
      tickMs: 50,
      handshakeTimeoutMs: 5000,
      // max(100, 10 × tickMs)
      minIntervalMs: 500,
      maxIntervalMs: 60_000,
    });
    expect(resolveHeartbeatConfig({})).toStrictEqual(resolveHeartbeatConfig());
    expect(HEARTBEAT_DEFAULTS).toStrictEqual({
      intervalMs: 2000,
      timeoutMs: 6000,
      suspectFactor: 1.5,
      jitter: 0.1,
      tickMs: 50,
      handshakeTimeoutMs: 5000,
      minIntervalMs: 100,
      maxIntervalMs: 60_000,
    });
  });

  it('scales the default timeout and suspect time with a given interval', () => {
    expect(resolveHeartbeatConfig({ intervalMs: 1000 })).toStrictEqual({
      intervalMs: 1000,
      timeoutMs: 3000,
      suspectAfterMs: 1500,
      jitter: 0.1,
      tickMs: 50,
      handshakeTimeoutMs: 5000,
      minIntervalMs: 500,
      maxIntervalMs: 60_000,
    });
  });

  it('caps the default suspect time halfway to a short timeout', () => {
    expect(resolveHeartbeatConfig({ intervalMs: 1000, timeoutMs: 1400 }).suspectAfterMs).toBe(1200);
  });

  it('derives tick, min and max interval from a small or large interval', () => {
    expect(resolveHeartbeatConfig({ intervalMs: 60 })).toMatchObject({ timeoutMs: 180, suspectAfterMs: 90, tickMs: 6, minIntervalMs: 60, maxIntervalMs: 60_000 });
    expect(resolveHeartbeatConfig({ intervalMs: 5 })).toMatchObject({ timeoutMs: 15, suspectAfterMs: 8, tickMs: 1, minIntervalMs: 5 });
    expect(resolveHeartbeatConfig({ intervalMs: 1000, tickMs: 20 })).toMatchObject({ minIntervalMs: 200 });
    expect(resolveHeartbeatConfig({ intervalMs: 120_000 })).toMatchObject({ timeoutMs: 360_000, tickMs: 50, minIntervalMs: 500, maxIntervalMs: 120_000 });
  });

  it('keeps explicit values', () => {
    const options = {
      intervalMs: 1000,
      timeoutMs: 4000,
      suspectAfterMs: 2000,
      jitter: 0,
      tickMs: 10,
      handshakeTimeoutMs: 100,
      minIntervalMs: 500,
      maxIntervalMs: 1000,
    };
    expect(resolveHeartbeatConfig(options)).toStrictEqual(options);
  });

  it.each([
    ['intervalMs', { intervalMs: 0 }, 'intervalMs: must be a positive integer number of ms, got 0'],
    ['intervalMs', { intervalMs: -5 }, 'intervalMs: must be a positive integer number of ms, got -5'],
    ['intervalMs', { intervalMs: 1.5 }, 'intervalMs: must be a positive integer number of ms, got 1.5'],
    ['intervalMs', { intervalMs: Number.NaN }, 'intervalMs: must be a positive integer number of ms, got NaN'],
    ['timeoutMs', { timeoutMs: 0 }, 'timeoutMs: must be a positive integer number of ms, got 0'],
    ['handshakeTimeoutMs', { handshakeTimeoutMs: 0 }, 'handshakeTimeoutMs: must be a positive integer number of ms, got 0'],
    ['tickMs', { tickMs: 2.5 }, 'tickMs: must be a positive integer number of ms, got 2.5'],
    ['suspectAfterMs', { suspectAfterMs: -1 }, 'suspectAfterMs: must be a positive integer number of ms, got -1'],
  ] as const)('refuses a bad %s: %j', (field, options, message) => {
    const ce = refusal(options);
    expect(ce.field).toBe(field);
    expect(ce.message).toBe(message);
  });

  it.each([2000, 1000])('refuses timeoutMs %i not above intervalMs 2000, naming intervalMs in the reason', (timeoutMs) => {
    const ce = refusal({ intervalMs: 2000, timeoutMs });
    expect(ce.field).toBe('timeoutMs');
    expect(ce.message).toBe(
      `timeoutMs: must be greater than intervalMs (2000), got ${timeoutMs}: a peer would be declared dead before its next heartbeat is due`,
    );
  });

  it.each([-0.01, 0.51, 1, Number.NaN])('refuses jitter %p', (jitter) => {
    const ce = refusal({ jitter });
    expect(ce.field).toBe('jitter');
    expect(ce.message).toBe(`jitter: must be between 0 and 0.5, got ${String(jitter)}`);
  });

  it('accepts jitter 0 and 0.5', () => {
    expect(resolveHeartbeatConfig({ jitter: 0 }).jitter).toBe(0);
    expect(resolveHeartbeatConfig({ jitter: 0.5, suspectAfterMs: 3001 }).jitter).toBe(0.5);
  });

  it('refuses jitter 0.5 with the default suspect time, which a late ping could reach', () => {
    const ce = refusal({ jitter: 0.5 });
    expect(ce.field).toBe('suspectAfterMs');
    expect(ce.message).toBe('suspectAfterMs: must lie between interval × (1 + jitter) (3000) and timeoutMs (6000), got 3000');
  });

  it.each([2200, 2000, 6000, 7000])('refuses suspectAfterMs %i outside (interval × 1.1, timeout)', (suspectAfterMs) => {
    const ce = refusal({ suspectAfterMs });
    expect(ce.field).toBe('suspectAfterMs');
    expect(ce.message).toBe(`suspectAfterMs: must lie between interval × (1 + jitter) (2200) and timeoutMs (6000), got ${suspectAfterMs}`);
  });

  it.each([2201, 5999])('accepts suspectAfterMs %i', (suspectAfterMs) => {
    expect(resolveHeartbeatConfig({ suspectAfterMs }).suspectAfterMs).toBe(suspectAfterMs);
  });

  it('refuses a default suspect time squeezed out by a timeout barely above the interval', () => {
    // suspect defaults to 2050, not above 2000 × 1.1.
    expect(refusal({ intervalMs: 2000, timeoutMs: 2100 }).field).toBe('suspectAfterMs');
  });

  it('refuses tickMs above a quarter of the interval and accepts exactly a quarter', () => {
    const ce = refusal({ intervalMs: 1000, tickMs: 251 });
    expect(ce.field).toBe('tickMs');
    expect(ce.message).toBe('tickMs: must be at most a quarter of intervalMs (250), got 251');
    expect(resolveHeartbeatConfig({ intervalMs: 1000, tickMs: 250 }).tickMs).toBe(250);
  });

  it('refuses an interval outside [minIntervalMs, maxIntervalMs]', () => {
    const low = refusal({ minIntervalMs: 3000 });
    expect(low.field).toBe('intervalMs');
    expect(low.message).toBe('intervalMs: must lie between minIntervalMs (3000) and maxIntervalMs (60000), got 2000');
    const high = refusal({ maxIntervalMs: 1000 });
    expect(high.field).toBe('intervalMs');
    expect(high.message).toBe('intervalMs: must lie between minIntervalMs (500) and maxIntervalMs (1000), got 2000');
  });
});

describe('negotiateTiming', () => {
  const config = resolveHeartbeatConfig();

  it('returns the configured timing when nothing or the same interval is requested', () => {
    expect(negotiateTiming(config)).toBe(config);
    expect(negotiateTiming(config, 2000)).toBe(config);
  });

  it('scales suspect and timeout with the requested interval', () => {
    expect(negotiateTiming(config, 1000)).toStrictEqual({ intervalMs: 1000, suspectAfterMs: 1500, timeoutMs: 3000, jitter: 0.1 });
    expect(negotiateTiming(config, 1234)).toStrictEqual({ intervalMs: 1234, suspectAfterMs: 1851, timeoutMs: 3702, jitter: 0.1 });
  });

  it('rounds a fractional request', () => {
    expect(negotiateTiming(config, 999.6)).toStrictEqual({ intervalMs: 1000, suspectAfterMs: 1500, timeoutMs: 3000, jitter: 0.1 });
  });

  it('clamps to minIntervalMs and maxIntervalMs', () => {
    expect(negotiateTiming(config, 0)).toStrictEqual({ intervalMs: 500, suspectAfterMs: 750, timeoutMs: 1500, jitter: 0.1 });
    expect(negotiateTiming(config, 50)).toStrictEqual({ intervalMs: 500, suspectAfterMs: 750, timeoutMs: 1500, jitter: 0.1 });
    expect(negotiateTiming(config, 10_000_000)).toStrictEqual({ intervalMs: 60_000, suspectAfterMs: 90_000, timeoutMs: 180_000, jitter: 0.1 });
  });
});

describe('clientTiming', () => {
  it('gives the client a watchdog of interval + timeout, suspect at timeout, no jitter', () => {
    expect(clientTiming(2000, 6000)).toStrictEqual({ intervalMs: 2000, suspectAfterMs: 6000, timeoutMs: 8000, jitter: 0 });
  });
});
