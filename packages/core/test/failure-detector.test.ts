import type { PeerTiming } from '../src/config.js';
import { FixedTimeoutDetector, fixedTimeoutDetector } from '../src/failure-detector.js';

const timing: PeerTiming = { intervalMs: 1000, suspectAfterMs: 1500, timeoutMs: 3000, jitter: 0 };

describe('FixedTimeoutDetector', () => {
  it('judges silence since the start: alive, suspect at suspectAfterMs, dead at timeoutMs', () => {
    const d = new FixedTimeoutDetector(timing, 100);
    expect([d.verdict(100), d.verdict(1599), d.verdict(1600), d.verdict(3099), d.verdict(3100), d.verdict(1e9)]).toStrictEqual([
      'alive',
      'alive',
      'suspect',
      'suspect',
      'dead',
      'dead',
    ]);
  });

  it('measures from the latest arrival, heartbeat or not', () => {
    const d = new FixedTimeoutDetector(timing, 0);
    d.record(1000);
    expect([d.verdict(2499), d.verdict(2500), d.verdict(4000)]).toStrictEqual(['alive', 'suspect', 'dead']);
    d.record(4000);
    expect(d.verdict(4000)).toBe('alive');
  });

  it('names the next time the verdict may change', () => {
    const d = new FixedTimeoutDetector(timing, 0);
    expect(d.nextCheckAt(0)).toBe(1500);
    expect(d.nextCheckAt(1499)).toBe(1500);
    expect(d.nextCheckAt(1500)).toBe(3000);
    d.record(1000);
    expect(d.nextCheckAt(1200)).toBe(2500);
    expect(d.nextCheckAt(2600)).toBe(4000);
  });

  it('is what the default factory builds', () => {
    const d = fixedTimeoutDetector(timing, 50);
    expect(d).toBeInstanceOf(FixedTimeoutDetector);
    expect([d.verdict(1549), d.verdict(1550), d.verdict(3050)]).toStrictEqual(['alive', 'suspect', 'dead']);
  });
});
