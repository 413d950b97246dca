/**
 * Chen–Toueg–Aguilera quality-of-service metrics from replay counts, pooling across
 * traces, and the comparison the goal asks for: at each mistake rate the fixed
 * detector reaches, how soon does phi detect with no more mistakes?
 */
import type { ReplayResult } from './replay.js';

/** One configuration on one trace (or a pool of traces). Times in ms and in intervals. */
export interface Point {
  readonly trace: string;
  readonly family: 'fixed' | 'phi';
  readonly label: string;
  readonly threshold: number;
  readonly peerHours: number;
  /** λ_M at the suspect level: false suspicions per peer-hour. */
  readonly suspicionsPerHour: number;
  /** False deaths per peer-hour. */
  readonly deathsPerHour: number;
  /** P_A: the fraction of crash-free time the output was right (alive). */
  readonly queryAccuracy: number;
  /** T_D to suspicion after a crash, mean over crashes, in intervals. */
  readonly tdSuspect: number;
  readonly tdSuspectP99: number;
  /** T_D to death after a crash (NaN when the configuration never kills), in intervals. */
  readonly tdDead: number;
  readonly tdDeadMax: number;
  readonly crashes: number;
  readonly undetected: number;
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}

/** Pools results of one configuration over traces (rates weighted by time, T_D by crashes); T_D in intervals. */
export function summarize(name: string, results: readonly { result: ReplayResult; intervalMs: number }[]): Point {
  const first = results[0]!.result.config;
  let observed = 0;
  let suspicions = 0;
  let deaths = 0;
  let mistrust = 0;
  let undetected = 0;
  const ts: number[] = [];
  const td: number[] = [];
  for (const { result: r, intervalMs } of results) {
    observed += r.observedMs;
    suspicions += r.falseSuspicions;
    deaths += r.falseDeaths;
    mistrust += r.mistrustMs;
    undetected += r.undetected;
    for (const t of r.suspectAfterCrash) ts.push(t / intervalMs);
    for (const t of r.deadAfterCrash) td.push(t / intervalMs);
  }
  const hours = observed / 3_600_000;
  return {
    trace: name,
    family: first.family,
    label: first.label,
    threshold: first.threshold,
    peerHours: hours,
    suspicionsPerHour: suspicions / hours,
    deathsPerHour: deaths / hours,
    queryAccuracy: 1 - mistrust / observed,
    tdSuspect: mean(ts),
    tdSuspectP99: quantile(ts, 0.99),
    tdDead: mean(td),
    tdDeadMax: td.length === 0 ? Number.NaN : Math.max(...td),
    crashes: ts.length + undetected,
    undetected,
  };
}

/** For one fixed point: phi's fastest configuration with at most as many mistakes. */
export interface Match {
  readonly fixed: Point;
  readonly phi: Point | null;
  /** 1 − T_D(phi) / T_D(fixed): 0.3 means phi detects 30% sooner. */
  readonly speedup: number;
}

/**
 * Compares the two sweeps on one trace at equal mistake rates: for every fixed point,
 * the phi point with the lowest T_D among those with no more false suspicions per hour.
 */
export function matchAtEqualMistakes(points: readonly Point[]): Match[] {
  const phi = points.filter((p) => p.family === 'phi' && !Number.isNaN(p.threshold));
  // Only the fixed detector's own frontier: a slower fixed point with no fewer mistakes is not a fair baseline.
  return frontier(points.filter((p) => p.family === 'fixed' && !Number.isNaN(p.threshold)))
    .map((fixed) => {
      let best: Point | null = null;
      for (const p of phi) if (p.suspicionsPerHour <= fixed.suspicionsPerHour + 1e-9 && (best === null || p.tdSuspect < best.tdSuspect)) best = p;
      return { fixed, phi: best, speedup: best === null ? Number.NaN : 1 - best.tdSuspect / fixed.tdSuspect };
    });
}

/**
 * The points that matter for a curve: for each mistake rate, the fastest configuration
 * (a point is kept if no other point has both fewer or equal mistakes and a lower T_D).
 */
export function frontier(points: readonly Point[]): Point[] {
  return points.filter((p) => !points.some((q) => q !== p && q.suspicionsPerHour <= p.suspicionsPerHour && q.tdSuspect < p.tdSuspect));
}

/** A plain aligned text table. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Fixed-width number, or `—` for NaN. */
export function num(x: number, digits = 2): string {
  return Number.isNaN(x) ? '—' : x.toFixed(digits);
}
