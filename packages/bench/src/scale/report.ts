/**
 * The scale benchmark's tables: every server's figures per interval and peer count,
 * Vigil's ratio to each alternative, and the issue's goals checked against one run.
 */
import type { StepResult } from './scenario.js';
import type { ServerKind } from './processes.js';

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const kb = (bytes: number): string => fmt(bytes / 1024, 2);
const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');

function falseDeaths(r: StepResult): number {
  return Object.values(r.falseDeaths).reduce((a, b) => a + b, 0);
}

function detection(r: StepResult): string {
  if (r.detectionMs.length === 0) return `none of ${r.missed}`;
  const missed = r.missed > 0 ? `, ${r.missed} missed` : '';
  return `${int(percentile(r.detectionMs, 50))} / ${int(percentile(r.detectionMs, 99))}${missed}`;
}

/** One table per interval: a row per server and peer count. */
export function resultsTable(results: readonly StepResult[]): string[] {
  const out: string[] = [];
  for (const interval of [...new Set(results.map((r) => r.intervalMs))]) {
    const rows = results.filter((r) => r.intervalMs === interval);
    const timeout = rows[0]!.timeoutMs;
    out.push(`### Heartbeat every ${interval / 1000} s, timeout ${timeout / 1000} s`);
    out.push('');
    out.push('| server | peers | CPU per heartbeat (µs) | CPU (% of a core; kernel share) | RSS per peer (KB) | JS heap per peer (KB) | event-loop delay p50 / p99 / max (ms) | setup (conn/s) | detection p50 / p99 (ms) | false deaths | load avg |');
    out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of [...rows].sort((a, b) => a.peers - b.peers || a.server.localeCompare(b.server))) {
      out.push(
        `| ${r.server} | ${int(r.peers)} | ${fmt(r.cpuPerHeartbeatUs)} | ${fmt(r.cpuPercent)} (${fmt(r.systemShare, 0)}%) | ${kb(r.rssPerPeer)} | ${kb(r.heapPerPeer)} | ${fmt(r.loop.p50)} / ${fmt(r.loop.p99)} / ${fmt(r.loop.max)} | ${int(r.setupPerSecond)} | ${detection(r)} | ${falseDeaths(r)} | ${fmt(r.loadAverage[0] ?? Number.NaN, 2)} |`,
      );
    }
    out.push('');
  }
  return out;
}

const VIGILS: readonly ServerKind[] = ['vigil-ws', 'vigil-tcp'];

/** Vigil ÷ each alternative at every interval and peer count (below 1 favours Vigil). */
export function ratioTable(results: readonly StepResult[]): string[] {
  const out: string[] = ['| interval | peers | Vigil ÷ | CPU per heartbeat | RSS per peer | JS heap per peer | event-loop p99 |', '|---:|---:|---|---:|---:|---:|---:|'];
  // A negative growth (RSS at 1k peers is within the noise of the process's own) has no meaningful ratio.
  const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && a >= 0 && b > 0 ? `${(a / b).toFixed(2)}×` : '–');
  const keys = [...new Set(results.map((r) => `${r.intervalMs}|${r.peers}`))];
  for (const key of keys) {
    const at = results.filter((r) => `${r.intervalMs}|${r.peers}` === key);
    for (const v of VIGILS) {
      const vr = at.find((r) => r.server === v);
      if (!vr) continue;
      for (const other of at.filter((r) => !VIGILS.includes(r.server))) {
        out.push(
          `| ${vr.intervalMs / 1000} s | ${int(vr.peers)} | ${v} ÷ ${other.server} | ${ratio(vr.cpuPerHeartbeatUs, other.cpuPerHeartbeatUs)} | ${ratio(vr.rssPerPeer, other.rssPerPeer)} | ${ratio(vr.heapPerPeer, other.heapPerPeer)} | ${ratio(vr.loop.p99, other.loop.p99)} |`,
        );
      }
    }
  }
  return out;
}

export interface Goal {
  readonly goal: string;
  readonly measured: string;
  readonly met: boolean;
}

/** The issue's goals at the largest peer count with 1 s heartbeats, for each Vigil transport; detection and false deaths at every step. */
export function goals(results: readonly StepResult[], tickMs: number): Goal[] {
  const out: Goal[] = [];
  const fast = results.filter((r) => r.intervalMs === 1000);
  const top = Math.max(...fast.map((r) => r.peers));
  const at = (s: ServerKind): StepResult | undefined => fast.find((r) => r.server === s && r.peers === top);
  const ws = at('ws');
  const sio = at('socketio');
  for (const v of VIGILS) {
    const r = at(v);
    if (!r) continue;
    if (sio) out.push({ goal: `${v}: CPU per heartbeat ≤ 0.5× Socket.IO's at ${int(top)} peers, 1 s`, measured: `${fmt(r.cpuPerHeartbeatUs)} vs ${fmt(sio.cpuPerHeartbeatUs)} µs (${(r.cpuPerHeartbeatUs / sio.cpuPerHeartbeatUs).toFixed(2)}×)`, met: r.cpuPerHeartbeatUs <= 0.5 * sio.cpuPerHeartbeatUs });
    if (ws) out.push({ goal: `${v}: CPU per heartbeat ≤ 0.9× ws's`, measured: `${fmt(r.cpuPerHeartbeatUs)} vs ${fmt(ws.cpuPerHeartbeatUs)} µs (${(r.cpuPerHeartbeatUs / ws.cpuPerHeartbeatUs).toFixed(2)}×)`, met: r.cpuPerHeartbeatUs <= 0.9 * ws.cpuPerHeartbeatUs });
    out.push({ goal: `${v}: JS heap per peer ≤ 2 KB`, measured: `${kb(r.heapPerPeer)} KB`, met: r.heapPerPeer <= 2048 });
    if (ws) out.push({ goal: `${v}: RSS per peer ≤ ws's`, measured: `${kb(r.rssPerPeer)} vs ${kb(ws.rssPerPeer)} KB`, met: r.rssPerPeer <= ws.rssPerPeer });
    out.push({ goal: `${v}: event-loop delay p99 < 10 ms`, measured: `${fmt(r.loop.p99)} ms`, met: r.loop.p99 < 10 });
  }
  for (const r of results.filter((x) => VIGILS.includes(x.server))) {
    const bound = r.timeoutMs + tickMs;
    const p99 = percentile(r.detectionMs, 99);
    out.push({ goal: `${r.server} ${r.intervalMs / 1000} s, ${int(r.peers)} peers: detection p99 ≤ timeout + one tick (${bound} ms), none missed`, measured: `${int(p99)} ms${r.missed ? `, ${r.missed} missed` : ''}`, met: p99 <= bound && r.missed === 0 });
    out.push({ goal: `${r.server} ${r.intervalMs / 1000} s, ${int(r.peers)} peers: zero false deaths`, measured: String(falseDeaths(r)), met: falseDeaths(r) === 0 });
  }
  return out;
}

export function goalsTable(list: readonly Goal[]): string[] {
  return ['| goal | measured | met |', '|---|---|---|', ...list.map((g) => `| ${g.goal} | ${g.measured} | ${g.met ? 'yes' : '**no**'} |`)];
}
