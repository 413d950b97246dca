/**
 * Background mode in virtual time: the bound rule and its validation, and a peer
 * monitor whose peer reported a hidden page: it may turn suspect, but dies only at the
 * background timeout; back to normal it is judged by its own timing again; heartbeats
 * heard meanwhile teach an adaptive detector nothing.
 */
import { ConfigError } from '@vigil/protocol';
import { BACKGROUND_DEFAULTS, backgroundTimeout, resolveHiddenTimeout } from '../src/background.js';
import type { PeerTiming } from '../src/config.js';
import type { FailureDetector } from '../src/failure-detector.js';
import { FixedTimeoutDetector } from '../src/failure-detector.js';
import { LivenessEngine } from '../src/liveness-engine.js';
import { PeerMonitor } from '../src/peer-monitor.js';
import type { Cause, StateChange } from '../src/peer-state.js';
import { VirtualClock } from './virtual-time.js';

const TICK = 50;
const timing: PeerTiming = { intervalMs: 1000, suspectAfterMs: 1500, timeoutMs: 3000, jitter: 0 };
const HIDDEN_MS = 20_000;

function setup(detector?: (t: PeerTiming, start: number) => FailureDetector) {
  const clock = new VirtualClock();
  const engine = new LivenessEngine({ scheduler: clock.scheduler, tickMs: TICK, stallGuard: false, ...(detector ? { detector } : {}) });
  const changes: StateChange[] = [];
  engine.changes$.subscribe((c) => changes.push(c));
  const expired: [Cause, number][] = [];
  const monitor: PeerMonitor = new PeerMonitor(
    engine,
    'page-1',
    {
      expire: (cause) => {
        expired.push([cause, clock.now()]);
        monitor.end('dead', cause);
      },
    },
    5000,
  );
  monitor.start(timing, false);
  const states = (): string[] => changes.map((c) => `${c.at} ${c.to}`);
  return { clock, monitor, expired, states };
}

describe('background timeout rule', () => {
  it('stretches to the bound for hidden, frozen and offline, never below the peer timeout, and not at all for visible or when off', () => {
    expect(backgroundTimeout('hidden', timing, 60_000)).toBe(60_000);
    expect(backgroundTimeout('frozen', timing, 60_000)).toBe(60_000);
    expect(backgroundTimeout('offline', timing, 60_000)).toBe(60_000);
    expect(backgroundTimeout('hidden', timing, 1000)).toBe(3000);
    expect(backgroundTimeout('visible', timing, 60_000)).toBe(0);
    expect(backgroundTimeout('hidden', timing, 0)).toBe(0);
  });

  it('validates hiddenTimeoutMs with a reason', () => {
    expect(resolveHiddenTimeout()).toBe(BACKGROUND_DEFAULTS.hiddenTimeoutMs);
    expect(resolveHiddenTimeout(0)).toBe(0);
    for (const bad of [-1, 1.5, Number.NaN, BACKGROUND_DEFAULTS.maxHiddenTimeoutMs + 1]) {
      expect(() => resolveHiddenTimeout(bad)).toThrow(ConfigError);
    }
    expect(() => resolveHiddenTimeout(-1)).toThrow('hiddenTimeoutMs: must be an integer number of ms from 0 to 3600000, got -1');
  });
});

describe('PeerMonitor in background mode', () => {
  it('a silent hidden peer turns suspect on time but dies only at the background timeout', () => {
    const s = setup();
    s.monitor.setBackground(HIDDEN_MS);
    expect(s.monitor.backgroundTimeoutMs).toBe(HIDDEN_MS);
    s.clock.advance(HIDDEN_MS - TICK);
    expect(s.expired).toEqual([]);
    expect(s.states()).toEqual(['0 alive', '1500 suspect']);
    s.clock.advance(TICK);
    expect(s.expired).toEqual([['heartbeat-timeout', HIDDEN_MS]]);
    expect(s.states()).toEqual(['0 alive', '1500 suspect', `${HIDDEN_MS} dead`]);
  });

  it('back to visible, the peer is judged by its own timing again from its last frame', () => {
    const s = setup();
    s.monitor.setBackground(HIDDEN_MS);
    s.clock.advanceTo(10_000);
    s.monitor.touch(false); // the `status: visible` message itself
    s.monitor.setBackground(0);
    expect(s.monitor.backgroundTimeoutMs).toBe(0);
    s.clock.advanceTo(13_000);
    expect(s.expired).toEqual([['heartbeat-timeout', 13_000]]);
    expect(s.states()).toEqual(['0 alive', '1500 suspect', '10000 alive', '11500 suspect', '13000 dead']);
  });

  it('leaving background mode after the normal timeout already passed kills at the next check', () => {
    const s = setup();
    s.monitor.setBackground(HIDDEN_MS);
    s.clock.advanceTo(5000);
    s.monitor.setBackground(0);
    s.clock.advance(TICK);
    expect(s.expired).toEqual([['heartbeat-timeout', 5000 + TICK]]);
  });

  it('a hidden peer that still answers stays alive; its heartbeats are proof of life but not rhythm samples', () => {
    const learned: boolean[] = [];
    const s = setup((t, start) => {
      const inner = new FixedTimeoutDetector(t, start);
      return {
        record: (now, heartbeat, learn = heartbeat) => {
          learned.push(learn);
          inner.record(now);
        },
        verdict: (now) => inner.verdict(now),
        nextCheckAt: (now) => inner.nextCheckAt(now),
      };
    });
    s.clock.advanceTo(1000);
    s.monitor.touch(true);
    s.monitor.setBackground(HIDDEN_MS);
    for (let t = 6000; t <= 31_000; t += 5000) {
      s.clock.advanceTo(t);
      s.monitor.touch(true);
    }
    s.monitor.setBackground(0);
    s.clock.advanceTo(32_000);
    s.monitor.touch(true);
    expect(learned).toEqual([true, false, false, false, false, false, false, true]);
    expect(s.expired).toEqual([]);
    // Throttled answers 5 s apart: suspect in between, alive on each, never dead.
    expect(s.states().filter((x) => x.endsWith('dead'))).toEqual([]);
    expect(s.monitor.state).toBe('alive');
  });

  it('setting the same timeout again is a no-op, and a dead peer stays dead', () => {
    const s = setup();
    s.clock.advanceTo(3000);
    expect(s.expired).toEqual([['heartbeat-timeout', 3000]]);
    s.monitor.setBackground(HIDDEN_MS);
    s.clock.advance(HIDDEN_MS);
    expect(s.monitor.state).toBe('dead');
    expect(s.expired).toHaveLength(1);
  });
});
