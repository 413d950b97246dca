import { curveSvg } from '../src/detectors/svg.js';
import { formatTrace, readTrace, type Trace } from '../src/detectors/traces.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('curveSvg', () => {
  it('draws one polyline per series per panel, the zero column, and escapes text', () => {
    const svg = curveSvg('T_D <vs> λ', [
      {
        title: 'a & b',
        series: [
          { name: 'fixed', color: '#00f', points: [{ x: 0, y: 1.5 }, { x: 3, y: 1.2 }] },
          { name: 'phi', color: '#f80', points: [{ x: 0.5, y: 1.3 }] },
        ],
        markers: [{ x: 0, y: 1.5, label: 'fixed (defaults)', color: '#00f' }],
      },
    ], [{ name: 'fixed', color: '#00f' }]);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg).toContain('T_D &lt;vs&gt; λ');
    expect(svg).toContain('a &amp; b');
    expect(svg).toContain('>0</text>');
    expect(svg).not.toMatch(/NaN|Infinity/);
  });
});

describe('trace files', () => {
  const trace: Trace = { name: 'x', description: 'd', source: 's', intervalMs: 1000, jittery: false, peers: [{ id: 'p', startMs: 1.234, gapsMs: Array(12).fill(999.999) }] };

  it('round-trip through formatTrace, rounded to 0.01 ms', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-trace-'));
    writeFileSync(join(dir, 'x.json'), formatTrace(trace));
    expect(readTrace(join(dir, 'x.json'))).toStrictEqual({ ...trace, peers: [{ id: 'p', startMs: 1.23, gapsMs: Array(12).fill(1000) }] });
  });

  it('refuse a malformed file, naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-trace-'));
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...trace, intervalMs: 0 }));
    expect(() => readTrace(join(dir, 'bad.json'))).toThrow(/bad\.json: intervalMs must be a positive integer/);
  });
});
