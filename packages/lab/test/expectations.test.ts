/**
 * The expected windows follow the kernel's and Vigil's rules for the lab's timings,
 * and the judgement applies the tolerance exactly at its edges.
 */
import { describeExpected, effectiveKernel, expected, judge, retries2TimeoutMs, toleranceMs, type KernelFacts } from '../src/expectations.js';
import { detectors, profile, type DetectorSpec } from '../src/spec.js';

const facts: KernelFacts = { keepaliveTimeS: 7200, keepaliveIntvlS: 75, keepaliveProbes: 9, retries2: 15 };
const full = profile('full', { adaptive: true });
const t = full.timings;
const d = detectors(t) as Record<string, DetectorSpec>;

describe('effectiveKernel', () => {
  it("fills the namespace defaults, and libuv's 1 s / 10 for setKeepAlive", () => {
    expect(effectiveKernel(d['ka-system']!, facts)).toStrictEqual({ keepalive: { idleMs: 7_200_000, intervalMs: 75_000, count: 9 }, userTimeoutMs: 0 });
    expect(effectiveKernel(d['ka-node']!, facts)).toStrictEqual({ keepalive: { idleMs: 2000, intervalMs: 1000, count: 10 }, userTimeoutMs: 0 });
    expect(effectiveKernel(d['ut-only']!, facts)).toStrictEqual({ keepalive: null, userTimeoutMs: 3000 });
    expect(effectiveKernel(d['vigil-fixed']!, facts)).toBeNull();
  });
});

describe('retries2TimeoutMs', () => {
  it('models tcp_retries2 = 15 from a 200 ms RTO as 924.6 s (Documentation/networking/ip-sysctl)', () => {
    expect(retries2TimeoutMs(15)).toBe(924_600);
    expect(retries2TimeoutMs(8)).toBe(102_200);
  });
});

describe('expected', () => {
  it('keepalive alone after an idle blackhole: cnt·intvl … max(idle,intvl)+cnt·intvl', () => {
    expect(expected('blackhole-idle', d['ka-tuned']!, t, facts)).toMatchObject({ kind: 'window', loMs: 3000, hiMs: 5000, causes: ['kernel-keepalive'] });
    expect(expected('blackhole-idle', d['ka-node']!, t, facts)).toMatchObject({ loMs: 10_000, hiMs: 12_000 });
    expect(expected('link-down', d['ka-system']!, t, facts)).toMatchObject({ loMs: 675_000, hiMs: 7_875_000 });
  });

  it('keepalive with a user timeout: the timeout replaces the count', () => {
    expect(expected('blackhole-idle', d['ka+ut']!, t, facts)).toMatchObject({ kind: 'window', loMs: 1000, hiMs: 3000, causes: ['kernel-user-timeout'] });
  });

  it('nothing detects a frozen idle peer but the application heartbeat', () => {
    for (const id of ['ka-tuned', 'ka-node', 'ka-system', 'ut-only', 'ka+ut']) expect(expected('frozen-idle', d[id]!, t, facts).kind).toBe('never');
    expect(expected('frozen-idle', d['vigil-fixed']!, t, facts)).toMatchObject({ kind: 'window', loMs: 1400, hiMs: 2050, causes: ['heartbeat-timeout'] });
  });

  it('data in flight: the user timeout from the first retransmission, else tcp_retries2', () => {
    expect(expected('blackhole-data', d['ut-only']!, t, facts)).toMatchObject({ loMs: 3400, hiMs: 3650 });
    expect(expected('blackhole-data', d['ka-tuned']!, t, facts)).toMatchObject({ loMs: 924_600, hiMs: 1_044_600 });
  });

  it('a shut window: only a user timeout ends it', () => {
    expect(expected('frozen-writing', d['ka-tuned']!, t, facts).kind).toBe('never');
    expect(expected('frozen-writing', d['ka+ut']!, t, facts)).toMatchObject({ loMs: 3000, hiMs: 4000 });
  });

  it('reboots widen with the rebuild time', () => {
    expect(expected('reboot-quiet', d['ka-tuned']!, t, facts, { rebuildMs: 1500 })).toMatchObject({ loMs: 0, hiMs: 2500, causes: ['reset'] });
    expect(expected('reboot-quiet', d['ut-only']!, t, facts).kind).toBe('never');
    expect(expected('reboot-sending', d['ut-only']!, t, facts, { rebuildMs: 300 })).toMatchObject({ loMs: 0, hiMs: 550 });
    expect(expected('reboot-sending', d['vigil-fixed']!, t, facts, { rebuildMs: 300 })).toMatchObject({ hiMs: 900 });
  });
});

describe('judge', () => {
  const window = expected('blackhole-idle', d['ka-tuned']!, t, facts);
  const tol = toleranceMs(5000);

  it('allows 100 ms early and 100 ms + 1/8 late', () => {
    expect(tol).toBe(725);
    expect(judge(window, { detectedMs: 2900, cause: 'kernel-keepalive', error: 'ETIMEDOUT' }, 8000)).toBeNull();
    expect(judge(window, { detectedMs: 5725, cause: 'kernel-keepalive', error: 'ETIMEDOUT' }, 8000)).toBeNull();
    expect(judge(window, { detectedMs: 5726, cause: 'kernel-keepalive', error: 'ETIMEDOUT' }, 8000)).toBe(
      'detected at 5.726 s, outside 3 s–5 s (tolerance −0.1 s/+0.725 s): cnt·intvl … max(idle,intvl)+cnt·intvl',
    );
    expect(judge(window, { detectedMs: 2899, cause: 'kernel-keepalive', error: null }, 8000)).not.toBeNull();
  });

  it('checks the cause', () => {
    expect(judge(window, { detectedMs: 4000, cause: 'reset', error: 'ECONNRESET' }, 8000)).toBe('cause reset, expected kernel-keepalive');
  });

  it('counts a miss only when the window closes inside the cap', () => {
    const none = { detectedMs: null, cause: null, error: null };
    expect(judge(window, none, 8000)).toBe('not detected within the cap (8 s); expected 3 s–5 s');
    expect(judge(window, none, 5500)).toBeNull();
    expect(judge(expected('frozen-idle', d['ka-tuned']!, t, facts), none, 8000)).toBeNull();
  });

  it('flags any detection where none is expected', () => {
    const never = expected('frozen-idle', d['ka+ut']!, t, facts);
    expect(judge(never, { detectedMs: 3000, cause: 'kernel-user-timeout', error: 'ETIMEDOUT' }, 8000)).toMatch(/^detected at 3 s \(kernel-user-timeout\) where no detection is expected/);
  });

  it('describes windows beyond the cap as such', () => {
    expect(describeExpected(expected('blackhole-data', d['ka-tuned']!, t, facts), 30_000)).toBe('924.6 s–1044.6 s (beyond cap)');
    expect(describeExpected(window, 30_000)).toBe('3 s–5 s');
  });
});
