/**
 * A small pure SVG plotter for the quality curve: one panel per trace, x = false
 * suspicions per peer-hour on a log axis (with a "0" column for none), y = mean
 * detection time in intervals, one polyline per detector, markers for the defaults.
 */

export interface PlotPoint {
  readonly x: number;
  readonly y: number;
}

export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: readonly PlotPoint[];
}

export interface Marker extends PlotPoint {
  readonly label: string;
  readonly color: string;
}

export interface Panel {
  readonly title: string;
  readonly series: readonly Series[];
  readonly markers?: readonly Marker[];
}

const W = 330;
const H = 250;
const M = { left: 48, right: 12, top: 26, bottom: 40 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function panel(p: Panel, ox: number, oy: number): string {
  const all = [...p.series.flatMap((s) => s.points), ...(p.markers ?? [])].filter((q) => Number.isFinite(q.y));
  const positive = all.map((q) => q.x).filter((x) => x > 0);
  const loDecade = Math.floor(Math.log10(Math.min(...positive, 1)));
  const hiDecade = Math.max(loDecade + 1, Math.ceil(Math.log10(Math.max(...positive, 1))));
  // Zero sits one decade left of the smallest, on its own column.
  const zeroDecade = loDecade - 1;
  const xOf = (x: number) => {
    const d = x > 0 ? Math.log10(x) : zeroDecade;
    return ox + M.left + ((d - zeroDecade) / (hiDecade - zeroDecade)) * (W - M.left - M.right);
  };
  const ys = all.map((q) => q.y);
  const yLo = Math.floor(Math.min(...ys) * 4) / 4;
  const yHi = Math.ceil(Math.max(...ys) * 4) / 4;
  const yOf = (y: number) => oy + H - M.bottom - ((y - yLo) / Math.max(yHi - yLo, 0.25)) * (H - M.top - M.bottom);
  const out: string[] = [];
  out.push(`<text x="${ox + W / 2}" y="${oy + 16}" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`);
  out.push(`<rect x="${ox + M.left}" y="${oy + M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#999"/>`);
  for (let d = zeroDecade; d <= hiDecade; d++) {
    const x = xOf(d === zeroDecade ? 0 : 10 ** d);
    out.push(`<line x1="${x}" y1="${oy + H - M.bottom}" x2="${x}" y2="${oy + M.top}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${oy + H - M.bottom + 14}" text-anchor="middle" font-size="10">${d === zeroDecade ? '0' : String(10 ** d)}</text>`);
  }
  const step = yHi - yLo > 2 ? 0.5 : 0.25;
  for (let y = yLo; y <= yHi + 1e-9; y += step) {
    const py = yOf(y);
    out.push(`<line x1="${ox + M.left}" y1="${py}" x2="${ox + W - M.right}" y2="${py}" stroke="#eee"/>`);
    out.push(`<text x="${ox + M.left - 4}" y="${py + 3}" text-anchor="end" font-size="10">${y.toFixed(2)}</text>`);
  }
  out.push(`<text x="${ox + W / 2}" y="${oy + H - 8}" text-anchor="middle" font-size="10">false suspicions per peer-hour</text>`);
  out.push(`<text x="${ox + 12}" y="${oy + H / 2}" text-anchor="middle" font-size="10" transform="rotate(-90 ${ox + 12} ${oy + H / 2})">T_D (intervals)</text>`);
  for (const s of p.series) {
    const pts = s.points.filter((q) => Number.isFinite(q.y)).map((q) => `${xOf(q.x).toFixed(1)},${yOf(q.y).toFixed(1)}`);
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${pts.join(' ')}"/>`);
    for (const q of pts) {
      const [x, y] = q.split(',');
      out.push(`<circle cx="${x}" cy="${y}" r="2.2" fill="${s.color}"/>`);
    }
  }
  for (const m of p.markers ?? []) {
    const x = xOf(m.x);
    const y = yOf(m.y);
    out.push(`<rect x="${x - 4}" y="${y - 4}" width="8" height="8" fill="none" stroke="${m.color}" stroke-width="1.5"><title>${esc(m.label)}</title></rect>`);
  }
  return out.join('\n');
}

/** The whole figure: panels in rows of `columns`, a legend, a title. */
export function curveSvg(title: string, panels: readonly Panel[], legend: readonly { name: string; color: string; marker?: boolean }[], columns = 3): string {
  const rows = Math.ceil(panels.length / columns);
  const width = columns * W;
  const height = rows * H + 56;
  const parts = panels.map((p, i) => panel(p, (i % columns) * W, 40 + Math.floor(i / columns) * H));
  const items = legend.map((l, i) => {
    const x = 10 + i * 190;
    const mark = l.marker
      ? `<rect x="${x}" y="${height - 14}" width="8" height="8" fill="none" stroke="${l.color}" stroke-width="1.5"/>`
      : `<line x1="${x}" y1="${height - 10}" x2="${x + 16}" y2="${height - 10}" stroke="${l.color}" stroke-width="2"/>`;
    return `${mark}<text x="${x + 22}" y="${height - 6}" font-size="11">${esc(l.name)}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
    ...parts,
    ...items,
    '</svg>',
    '',
  ].join('\n');
}
