/** Formatting helpers shared by the page's views. Pure functions, no DOM. */

/** A duration in ms, compact: `850 ms`, `3.2 s`, `4m 12s`, `2h 5m`. */
export function duration(ms) {
  if (!Number.isFinite(ms)) return '—';
  const v = Math.max(0, ms);
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 10_000) return `${(v / 1000).toFixed(1)} s`;
  if (v < 60_000) return `${Math.round(v / 1000)} s`;
  const s = Math.floor(v / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** An RTT in ms with sensible precision: `0.12 ms`, `4.6 ms`, `230 ms`. */
export function rtt(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  return `${Math.round(ms)} ms`;
}

/** Wall-clock time of day with milliseconds, `14:03:27.412`. */
export function clock(wallMs) {
  const d = new Date(wallMs);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function bytes(n) {
  if (!Number.isFinite(n)) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function count(n) {
  return n.toLocaleString('en-US');
}

/** `heartbeat-timeout` → `heartbeat timeout`. */
export function cause(c) {
  return c ? c.replaceAll('-', ' ') : '';
}
