/**
 * The lab's chart as a standalone SVG string: one row per (mode, detector), time to
 * detect on a log axis from 10 ms to the cap, the expected window as a pale band, the
 * runs' min–max as a whisker with the median as a dot, and misses marked ✕. Pure.
 */
import type { Cell } from './results.js';

export interface ChartInput {
  readonly title: string;
  readonly capMs: number;
  readonly modes: readonly { readonly id: string; readonly label: string }[];
  readonly detectors: readonly { readonly id: string; readonly label: string }[];
  readonly cells: readonly Cell[];
}

/** Detector colours, in detector order (Okabe–Ito, readable for colour-blind readers). */
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#000000'];
const MISS = '#C62828';
const FLOOR_MS = 10;
const ROW = 16;
const GROUP_GAP = 22;
const LEFT = 300;
const PLOT = 520;
const RIGHT = 170;
const TOP = 58;

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Axis labels: `10 ms`, `1 s`, `30 s`. */
const tick = (ms: number): string => (ms < 1000 ? `${ms} ms` : `${ms / 1000} s`);
const fmt = (ms: number): string => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`);

export function renderChart(input: ChartInput): string {
  const { capMs } = input;
  const decades = Math.log10(capMs / FLOOR_MS);
  const x = (ms: number): number => LEFT + (PLOT * Math.log10(Math.min(Math.max(ms, FLOOR_MS), capMs) / FLOOR_MS)) / decades;
  const height = TOP + input.modes.length * (input.detectors.length * ROW + GROUP_GAP) + 40;
  const width = LEFT + PLOT + RIGHT;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="12" y="20" font-size="14" font-weight="bold">${escapeXml(input.title)}</text>`);
  out.push(
    `<text x="12" y="38" fill="#555">Time from failure to detection (log scale, cap ${fmt(capMs)}). Band: expected window. Dot: median; whisker: min–max. ✕: not detected within the cap; ⚠: outside expectation.</text>`,
  );
  // Grid: every decade between the floor and the cap, and the cap itself.
  const bottom = height - 30;
  const ticks: number[] = [];
  for (let ms = FLOOR_MS; ms < capMs; ms *= 10) ticks.push(ms);
  ticks.push(capMs);
  for (const ms of ticks) {
    const gx = x(ms).toFixed(1);
    out.push(`<line x1="${gx}" y1="${TOP - 6}" x2="${gx}" y2="${bottom}" stroke="${ms === capMs ? '#999' : '#e3e3e3'}"${ms === capMs ? ' stroke-dasharray="4 3"' : ''}/>`);
    out.push(`<text x="${gx}" y="${bottom + 14}" text-anchor="middle" fill="#555">${ms === capMs ? `cap ${tick(ms)}` : tick(ms)}</text>`);
  }
  let y = TOP;
  for (const mode of input.modes) {
    out.push(`<text x="12" y="${y + 4}" font-weight="bold">${escapeXml(mode.label)}</text>`);
    y += 10;
    input.detectors.forEach((d, i) => {
      const color = PALETTE[i % PALETTE.length]!;
      const cell = input.cells.find((c) => c.mode === mode.id && c.detector === d.id);
      const cy = y + ROW / 2;
      out.push(`<text x="24" y="${cy + 4}" fill="${color}">${escapeXml(d.label)}</text>`);
      if (cell) {
        const e = cell.expected;
        if (e.kind === 'window' && e.loMs < capMs) {
          const x0 = x(Math.max(e.loMs, FLOOR_MS));
          const x1 = Math.max(x(e.hiMs), x0 + 2);
          out.push(`<rect x="${x0.toFixed(1)}" y="${y + 2}" width="${(x1 - x0).toFixed(1)}" height="${ROW - 4}" fill="${color}" fill-opacity="0.15"/>`);
        }
        if (cell.minMs !== null && cell.maxMs !== null && cell.medianMs !== null) {
          out.push(`<line x1="${x(cell.minMs).toFixed(1)}" y1="${cy}" x2="${x(cell.maxMs).toFixed(1)}" y2="${cy}" stroke="${color}" stroke-width="2"/>`);
          out.push(`<circle cx="${x(cell.medianMs).toFixed(1)}" cy="${cy}" r="4" fill="${color}"/>`);
        }
        const missed = cell.runs - cell.detected;
        if (missed > 0) {
          const mx = x(capMs) + 8;
          out.push(`<text x="${mx.toFixed(1)}" y="${cy + 4}" fill="${MISS}" font-weight="bold">✕</text>`);
        }
        const expectedMiss = missed > 0 && cell.violations.length === 0 ? ' (as expected)' : '';
        const note = cell.detected === 0 ? `miss ${missed}/${cell.runs}${expectedMiss}` : `${fmt(cell.medianMs!)}${missed > 0 ? `, miss ${missed}/${cell.runs}` : ''}`;
        const bad = cell.violations.length > 0 ? ' ⚠' : '';
        out.push(`<text x="${(x(capMs) + 22).toFixed(1)}" y="${cy + 4}" fill="${cell.detected === 0 ? MISS : '#333'}">${escapeXml(note + bad)}</text>`);
      }
      y += ROW;
    });
    y += GROUP_GAP - 10;
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
