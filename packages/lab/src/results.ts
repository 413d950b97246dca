/**
 * The lab's records and their summary: one record per run (what each detector saw on
 * each side, the expectation, the kernel view), folded into one cell per (mode,
 * detector) with median/min/max and the violations that fail a run of the lab.
 */
import type { KernelSocketState } from '@vigil/transport';
import { describeExpected, type Expected, type KernelFacts, type Outcome } from './expectations.js';
import { summarizeView, type ViewSample } from './kernel-view.js';
import type { DetectorSpec, LabTimings, ModeId, Profile } from './spec.js';

/** One detector in one run. */
export interface DetectorRun {
  readonly detector: string;
  /** What the observer (the side watching the failed peer) saw. */
  readonly observer: Outcome;
  /** What the failed peer's own side saw, when it could still see anything. */
  readonly peer: Outcome | null;
  /** Vigil detectors: ms after the failure the observer first marked the peer suspect. */
  readonly suspectMs: number | null;
  /** Kernel detectors: the options read back on the observer's socket. */
  readonly readback: KernelSocketState | null;
  readonly expected: Expected;
  /** Null when the outcome matched the expectation. */
  readonly violation: string | null;
  /** `ss -tnoi` samples of this connection on the observer's side. */
  readonly view: readonly ViewSample[];
}

export interface RunRecord {
  readonly mode: ModeId;
  /** 1-based run number within the mode. */
  readonly run: number;
  /** Ms from all connections established to the failure (the random phase). */
  readonly phaseMs: number;
  /** Ms the injection command took; the failure time is its midpoint. */
  readonly injectMs: number;
  /** Reboot modes: ms from the failure until the peer's namespace was back. */
  readonly rebuildMs: number | null;
  /** Ms the run waited after the failure (up to the cap). */
  readonly waitedMs: number;
  readonly detectors: readonly DetectorRun[];
}

export interface Cell {
  readonly mode: ModeId;
  readonly detector: string;
  readonly runs: number;
  readonly detected: number;
  /** Over the runs that detected, ms after the failure; null when none did. */
  readonly medianMs: number | null;
  readonly minMs: number | null;
  readonly maxMs: number | null;
  /** Causes the observer reported, with counts, e.g. `kernel-keepalive ×3`. */
  readonly observerSaw: string;
  readonly peerSaw: string;
  /** The expectation (for reboot modes, with the slowest rebuild of the runs). */
  readonly expected: Expected;
  readonly expectedText: string;
  readonly kernelView: string;
  readonly violations: readonly string[];
}

export interface LabReport {
  readonly version: 1;
  readonly profile: Profile['name'];
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly seed: number;
  readonly machine: { readonly kernel: string; readonly node: string; readonly libuv: string; readonly facts: KernelFacts };
  readonly timings: LabTimings;
  readonly modes: readonly { readonly id: ModeId; readonly label: string }[];
  readonly detectors: readonly DetectorSpec[];
  readonly runs: readonly RunRecord[];
  readonly cells: readonly Cell[];
  /** Every violation, `mode / detector run n: why`; the lab exits non-zero when any. */
  readonly violations: readonly string[];
}

/** Median of a non-empty list (mean of the middle two for even lengths). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** `a` when every run saw the same; otherwise `a (2 runs); b (1 run)`. */
export function counts(values: readonly (string | null)[]): string {
  const m = new Map<string, number>();
  for (const v of values) m.set(v ?? '—', (m.get(v ?? '—') ?? 0) + 1);
  if (m.size === 1) return [...m.keys()][0]!;
  return [...m].map(([k, n]) => `${k} (${n} run${n === 1 ? '' : 's'})`).join('; ');
}

function outcomeText(o: Outcome | null): string | null {
  if (o === null || o.detectedMs === null) return null;
  return o.error !== null ? `${o.cause ?? '?'} (${o.error})` : o.cause;
}

/** Folds the runs of one (mode, detector) into a cell. */
export function summarize(mode: ModeId, detector: string, runs: readonly RunRecord[], capMs: number): Cell {
  const mine = runs.filter((r) => r.mode === mode).map((r) => ({ r, d: r.detectors.find((x) => x.detector === detector)! }));
  const times = mine.map((x) => x.d.observer.detectedMs).filter((t): t is number => t !== null);
  // Reboot windows grow with the rebuild time: show the widest.
  const widest = mine.reduce((a, b) => ((b.r.rebuildMs ?? 0) > (a.r.rebuildMs ?? 0) ? b : a), mine[0]!);
  const view = mine.map((x) => summarizeView(x.d.view, x.d.observer.detectedMs));
  return {
    mode,
    detector,
    runs: mine.length,
    detected: times.length,
    medianMs: times.length > 0 ? median(times) : null,
    minMs: times.length > 0 ? Math.min(...times) : null,
    maxMs: times.length > 0 ? Math.max(...times) : null,
    observerSaw: counts(mine.map((x) => outcomeText(x.d.observer))),
    peerSaw: counts(mine.map((x) => outcomeText(x.d.peer))),
    expected: widest.d.expected,
    expectedText: describeExpected(widest.d.expected, capMs),
    kernelView: counts(view),
    violations: mine.filter((x) => x.d.violation !== null).map((x) => `run ${x.r.run}: ${x.d.violation!}`),
  };
}

export const sec = (ms: number | null): string => (ms === null ? '—' : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`);

/** The two markdown tables: a modes × detectors matrix of medians, and the full detail. */
export function markdown(report: LabReport): string {
  const lines: string[] = [];
  const t = report.timings;
  lines.push(`# Vigil lab (${report.profile}), ${report.startedAt}`);
  lines.push('');
  lines.push(
    `Linux ${report.machine.kernel}, Node ${report.machine.node} (libuv ${report.machine.libuv}); ${report.runs.length} runs, ` +
      `cap ${t.capMs / 1000} s; Vigil interval ${t.vigil.intervalMs} ms, timeout ${t.vigil.timeoutMs} ms; ` +
      `namespace sysctls: keepalive ${report.machine.facts.keepaliveTimeS}/${report.machine.facts.keepaliveIntvlS}/${report.machine.facts.keepaliveProbes}, tcp_retries2 ${report.machine.facts.retries2}.`,
  );
  lines.push('');
  lines.push('Time from the failure to the observer declaring the peer gone: median (min–max) over the runs; `—` = not within the cap.');
  lines.push('');
  lines.push(`| failure | ${report.detectors.map((d) => d.id).join(' | ')} |`);
  lines.push(`|---|${report.detectors.map(() => '---').join('|')}|`);
  for (const m of report.modes) {
    const cells = report.detectors.map((d) => {
      const c = report.cells.find((x) => x.mode === m.id && x.detector === d.id)!;
      if (c.detected === 0) return '—';
      const spread = c.runs > 1 ? ` (${sec(c.minMs)}–${sec(c.maxMs)})` : '';
      return `${sec(c.medianMs)}${spread}${c.detected < c.runs ? ` ${c.detected}/${c.runs}` : ''}`;
    });
    lines.push(`| ${m.label} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  lines.push('Detectors: ' + report.detectors.map((d) => `\`${d.id}\` ${d.label}`).join('; ') + '.');
  lines.push('');
  lines.push('| failure | detector | detected | median | min | max | expected | observer saw | peer saw | kernel view (observer) | verdict |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const c of report.cells) {
    const v = c.violations.length === 0 ? 'ok' : `**${c.violations.join('; ')}**`;
    lines.push(
      `| ${c.mode} | ${c.detector} | ${c.detected}/${c.runs} | ${sec(c.medianMs)} | ${sec(c.minMs)} | ${sec(c.maxMs)} | ${c.expectedText} | ${c.observerSaw} | ${c.peerSaw} | ${c.kernelView} | ${v} |`,
    );
  }
  lines.push('');
  lines.push(report.violations.length === 0 ? 'No violations.' : `${report.violations.length} violation(s):\n\n${report.violations.map((v) => `- ${v}`).join('\n')}`);
  lines.push('');
  return lines.join('\n');
}
