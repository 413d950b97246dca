/**
 * Folding runs into cells and tables: median/min/max over the runs that detected,
 * the widest reboot window, run counts, and the markdown both tables are made of.
 */
import type { Expected } from '../src/expectations.js';
import { counts, markdown, median, summarize, type DetectorRun, type LabReport, type RunRecord } from '../src/results.js';
import { profile } from '../src/spec.js';

const window: Expected = { kind: 'window', loMs: 1400, hiMs: 2050, causes: ['heartbeat-timeout'], formula: 'f' };

function detectorRun(detectedMs: number | null, violation: string | null = null, expectedOutcome: Expected = window): DetectorRun {
  return {
    detector: 'vigil-fixed',
    observer: { detectedMs, cause: detectedMs === null ? null : 'heartbeat-timeout', error: null },
    peer: null,
    suspectMs: null,
    readback: null,
    expected: expectedOutcome,
    violation,
    view: [],
  };
}

function run(n: number, d: DetectorRun, rebuildMs: number | null = null): RunRecord {
  return { mode: 'frozen-idle', run: n, phaseMs: 500, injectMs: 0, rebuildMs, waitedMs: 2000, detectors: [d] };
}

describe('median', () => {
  it('takes the middle value, or the mean of the middle two', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });
});

describe('counts', () => {
  it('gives the value alone when every run agrees, else each with its runs', () => {
    expect(counts(['a', 'a', 'a'])).toBe('a');
    expect(counts(['a', null, 'a'])).toBe('a (2 runs); — (1 run)');
  });
});

describe('summarize', () => {
  it('folds runs into median, min, max over the detections, with violations by run', () => {
    const runs = [run(1, detectorRun(1800)), run(2, detectorRun(null, 'not detected')), run(3, detectorRun(1600))];
    expect(summarize('frozen-idle', 'vigil-fixed', runs, 8000)).toStrictEqual({
      mode: 'frozen-idle',
      detector: 'vigil-fixed',
      runs: 3,
      detected: 2,
      medianMs: 1700,
      minMs: 1600,
      maxMs: 1800,
      observerSaw: 'heartbeat-timeout (2 runs); — (1 run)',
      peerSaw: '—',
      expected: window,
      expectedText: '1.4 s–2.05 s',
      kernelView: '—',
      violations: ['run 2: not detected'],
    });
  });

  it('shows the widest window of runs that differ (reboots)', () => {
    const narrow: Expected = { ...window, hiMs: 900 };
    const wide: Expected = { ...window, hiMs: 1300 };
    const runs = [run(1, detectorRun(500, null, narrow), 300), run(2, detectorRun(600, null, wide), 700)];
    expect(summarize('frozen-idle', 'vigil-fixed', runs, 8000).expected).toBe(wide);
  });
});

describe('markdown', () => {
  it('renders the matrix and the detail table', () => {
    const p = profile('quick');
    const runs = [run(1, detectorRun(1800)), run(2, detectorRun(1600))];
    const report: LabReport = {
      version: 1,
      profile: 'quick',
      startedAt: '2025-01-01T00:00:00.000Z',
      finishedAt: '2025-01-01T00:01:00.000Z',
      seed: 1,
      machine: { kernel: '6.1.0', node: 'v20.20.2', libuv: '1.46.0', facts: { keepaliveTimeS: 7200, keepaliveIntvlS: 75, keepaliveProbes: 9, retries2: 15 } },
      timings: p.timings,
      modes: [{ id: 'frozen-idle', label: 'peer frozen' }],
      detectors: p.detectors.filter((d) => d.id === 'vigil-fixed'),
      runs,
      cells: [summarize('frozen-idle', 'vigil-fixed', runs, 8000)],
      violations: [],
    };
    const md = markdown(report);
    expect(md).toContain('| failure | vigil-fixed |\n|---|---|\n| peer frozen | 1.70 s (1.60 s–1.80 s) |');
    expect(md).toContain('| frozen-idle | vigil-fixed | 2/2 | 1.70 s | 1.60 s | 1.80 s | 1.4 s–2.05 s | heartbeat-timeout | — | — | ok |');
    expect(md.trimEnd().endsWith('No violations.')).toBe(true);
  });
});
