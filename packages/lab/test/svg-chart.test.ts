/**
 * The chart is a pure function of the cells: well-formed SVG with one labelled row
 * per (mode, detector), the expected band, the median dot, misses marked, and text escaped.
 */
import type { Cell } from '../src/results.js';
import { escapeXml, renderChart } from '../src/svg-chart.js';

function cell(mode: string, detector: string, times: number[] | null, runs = 3): Cell {
  const t = times ?? [];
  return {
    mode: mode as Cell['mode'],
    detector,
    runs,
    detected: t.length,
    medianMs: t.length ? t[Math.floor(t.length / 2)]! : null,
    minMs: t.length ? Math.min(...t) : null,
    maxMs: t.length ? Math.max(...t) : null,
    observerSaw: '',
    peerSaw: '',
    expected: times ? { kind: 'window', loMs: 1000, hiMs: 3000, causes: ['heartbeat-timeout'], formula: '' } : { kind: 'never', formula: '' },
    expectedText: '',
    kernelView: '',
    violations: [],
  };
}

const input = {
  title: 'Lab <quick> & co',
  capMs: 10_000,
  modes: [{ id: 'frozen-idle', label: 'frozen, idle' }],
  detectors: [
    { id: 'ka', label: 'keepalive' },
    { id: 'vigil', label: 'Vigil' },
  ],
  cells: [cell('frozen-idle', 'ka', null), cell('frozen-idle', 'vigil', [1500, 1800, 2000])],
};

describe('renderChart', () => {
  const svg = renderChart(input);

  it('is one well-formed svg element with escaped text', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('Lab &lt;quick&gt; &amp; co');
    expect(svg.match(/<svg/g)).toHaveLength(1);
  });

  it('draws a row per detector, a band for a window, a dot for a median, ✕ for a miss', () => {
    expect(svg).toContain('>keepalive</text>');
    expect(svg).toContain('>Vigil</text>');
    expect(svg.match(/<circle /g)).toHaveLength(1);
    expect(svg.match(/fill-opacity="0.15"/g)).toHaveLength(1);
    expect(svg).toContain('>✕</text>');
    expect(svg).toContain('>miss 3/3 (as expected)</text>');
    expect(svg).toContain('>1.80 s</text>');
  });

  it('places times on a log axis from 10 ms to the cap', () => {
    // LEFT = 300, PLOT = 520, 3 decades from 10 ms to 10 s: 1 s sits two thirds along.
    expect(svg).toContain('<line x1="646.7"');
    expect(svg).toContain('>cap 10 s</text>');
    expect(svg).toContain('>100 ms</text>');
  });
});

describe('escapeXml', () => {
  it('escapes what matters in text and double-quoted attributes', () => {
    expect(escapeXml(`<a href="x">&</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;');
  });
});
