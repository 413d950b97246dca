import { fixedSweep, phiSweep, DEFAULTS } from '../src/detectors/configs.js';
import { matchAtEqualMistakes, summarize } from '../src/detectors/quality.js';
import { replay } from '../src/detectors/replay.js';
import type { Trace } from '../src/detectors/traces.js';

/** One peer, a heartbeat every second for 300 s, with one 2.5 s gap at heartbeat 200. */
function trace(gapAt = 200): Trace {
  const gapsMs = Array.from({ length: 300 }, (_, i) => (i === gapAt ? 2500 : 1000));
  return { name: 't', description: '', source: 'test', intervalMs: 1000, jittery: true, peers: [{ id: 'p', startMs: 0, gapsMs }] };
}

describe('replay', () => {
  it('counts the fixed detector’s false suspicion and measures T_D exactly', () => {
    const [r] = replay(trace(), [fixedSweep(1.5)]);
    expect(r!.falseSuspicions).toBe(1);
    // Suspect 1500 ms into the 2500 ms gap, wrong until the heartbeat ends it.
    expect(r!.mistrustMs).toBe(1000);
    expect(r!.observedMs).toBe(299 * 1000 + 2500);
    // Crashes after heartbeats 120, 140, …, 280: each detected 1500 ms after the last heartbeat.
    expect(r!.suspectAfterCrash).toStrictEqual(Array(9).fill(1500));
    expect(r!.undetected).toBe(0);
    const p = summarize('t', [{ result: r!, intervalMs: 1000 }]);
    expect([p.suspicionsPerHour, p.tdSuspect]).toStrictEqual([1 / ((299_000 + 2500) / 3_600_000), 1.5]);
  });

  it('drives the real phi detector: suspect where φ = 3 with the deviation at its floor', () => {
    const [r] = replay(trace(-1), [phiSweep(3)]);
    expect(r!.falseSuspicions).toBe(0);
    // Regular 1000 ms: once the bootstrap leaves the window, std is floored at 100 ms; 1000 + 3.0589 · 100, on the 10 ms tick.
    expect(new Set(r!.suspectAfterCrash.slice(-3))).toStrictEqual(new Set([1310]));
  });

  it('runs both verdicts and the hard cap at the defaults', () => {
    const [fixed, phi] = replay(trace(-1), DEFAULTS);
    expect(new Set(fixed!.deadAfterCrash)).toStrictEqual(new Set([3000]));
    expect(new Set(fixed!.suspectAfterCrash)).toStrictEqual(new Set([1500]));
    expect(phi!.deadAfterCrash.every((t) => t <= 3000)).toBe(true);
    expect([fixed!.falseDeaths, phi!.falseDeaths]).toStrictEqual([0, 0]);
  });

  it('pairs each fixed point with the fastest phi point that makes no more mistakes', () => {
    const results = replay(trace(), [fixedSweep(1.2), fixedSweep(3), phiSweep(1), phiSweep(16)]);
    const points = results.map((r) => summarize('t', [{ result: r, intervalMs: 1000 }]));
    const matches = matchAtEqualMistakes(points);
    expect(matches.map((m) => [m.fixed.label, m.phi?.label ?? null])).toStrictEqual([
      ['fixed 1.2×', 'phi 1'],
      // A lone 2.5 s gap in a perfectly regular trace: even φ = 16 (1.71 s at the floor) suspects it.
      ['fixed 3×', null],
    ]);
  });
});
