/** Inline SVG sparklines: a polyline (and optional area) scaled to the element's viewBox. */

/** Points for `values` in a `w`×`h` box, y growing downwards; `max` fixes the scale. */
export function sparkPoints(values, w, h, max) {
  const n = values.length;
  if (n === 0) return '';
  const top = max ?? Math.max(...values);
  const scale = top > 0 ? (h - 2) / top : 0;
  const step = n > 1 ? w / (n - 1) : 0;
  let out = '';
  for (let i = 0; i < n; i++) {
    const x = n > 1 ? i * step : w / 2;
    const y = h - 1 - values[i] * scale;
    out += `${x.toFixed(1)},${y.toFixed(1)} `;
  }
  return out.trimEnd();
}

/** Updates an `<svg>` holding `polyline.line` and optionally `polyline.area`. */
export function drawSpark(svg, values, max) {
  const box = svg.viewBox.baseVal;
  const w = box.width;
  const h = box.height;
  // One sample is not a trend; draw nothing rather than a dot or a triangle.
  const pts = values.length < 2 ? '' : sparkPoints(values, w, h, max);
  const line = svg.querySelector('.line');
  if (line) line.setAttribute('points', pts);
  const area = svg.querySelector('.area');
  if (area) area.setAttribute('points', pts === '' ? '' : `0,${h} ${pts} ${w},${h}`);
}
