/**
 * The lab's orchestrator: builds the namespaces, and for every (mode, run) starts the
 * observer and the peer, waits a random phase, injects the failure, samples the
 * kernel's view while the detectors decide (up to the cap), judges each outcome
 * against its expected window, and tears the run down. It owns every process and
 * namespace it creates, so `cleanup()` (synchronous) can remove them from any handler.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { release } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '@vigil/core';
import type { KernelSocketState } from '@vigil/transport';
import { effectiveKernel, expected, judge, type KernelFacts, type Outcome } from './expectations.js';
import { Child, monoMs, type ChildConfig, type ChildEvent, type Side } from './internal/ipc.js';
import { parseSs, type ViewSample } from './kernel-view.js';
import { LabError, OBSERVER_ADDR, Topology, cleanupStale } from './netns.js';
import { Progress } from './progress.js';
import { markdown, sec, summarize, type Cell, type DetectorRun, type LabReport, type RunRecord } from './results.js';
import { MODES, type DetectorSpec, type ModeSpec, type Profile } from './spec.js';
import { renderChart } from './svg-chart.js';

const LAB_DIR = fileURLToPath(new URL('..', import.meta.url));
const BASE_PORT = 7100;
const SAMPLE_MS = 250;
const SETUP_TIMEOUT_MS = 30_000;

export interface LabOptions {
  readonly profile: Profile;
  /** Folder for results.json, results.md, chart.svg and the children's logs. */
  readonly outDir: string;
  readonly seed: number;
  readonly progress?: Progress;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

function sampleSs(topo: Topology): Promise<{ at: number; text: string }> {
  return new Promise((resolve) => {
    const at = monoMs();
    execFile('ss', topo.ssArgs(), { timeout: 2000 }, (_error, stdout) => resolve({ at, text: stdout ?? '' }));
  });
}

function ended(events: readonly ChildEvent[], detector: string): Extract<ChildEvent, { ev: 'ended' }> | undefined {
  return events.find((e): e is Extract<ChildEvent, { ev: 'ended' }> => e.ev === 'ended' && e.detector === detector);
}

function connectedCount(c: Child): number {
  return c.events.filter((e) => e.ev === 'connected').length;
}

/** Null when the read-back options are the ones the detector's spec implies. */
function readbackMismatch(d: DetectorSpec, readback: KernelSocketState | null, facts: KernelFacts): string | null {
  const want = effectiveKernel(d, facts);
  if (want === null) return null;
  if (readback === null) return 'kernel options were not read back';
  const got = {
    keepalive: readback.keepalive ? { idleMs: readback.keepaliveIdleMs, intervalMs: readback.keepaliveIntervalMs, count: readback.keepaliveCount } : null,
    userTimeoutMs: readback.userTimeoutMs,
  };
  return JSON.stringify(got) === JSON.stringify(want) ? null : `options read back as ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`;
}

export class Lab {
  readonly topo = new Topology();
  private readonly children = new Set<Child>();
  private readonly progress: Progress;
  private readonly random: () => number;
  private facts: KernelFacts | null = null;
  /** Set by cleanup: nothing may be created after it (a run still unwinding would). */
  private stopped = false;

  constructor(private readonly options: LabOptions) {
    this.progress = options.progress ?? new Progress();
    this.random = seededRandom(options.seed);
  }

  /** Kills every child and removes both namespaces; synchronous and idempotent. */
  cleanup(): void {
    this.stopped = true;
    for (const c of this.children) {
      c.signal('SIGCONT');
      c.signal('SIGKILL');
    }
    this.children.clear();
    this.topo.destroy();
  }

  /** `cleanup` without blocking the event loop, for signal handlers. */
  async cleanupAsync(): Promise<void> {
    this.stopped = true;
    for (const c of this.children) {
      c.signal('SIGCONT');
      c.signal('SIGKILL');
    }
    this.children.clear();
    await this.topo.destroyAsync();
  }

  async run(): Promise<LabReport> {
    const { profile, outDir } = this.options;
    const startedAt = new Date().toISOString();
    const stale = cleanupStale();
    if (stale.length > 0) this.progress.line(`removed stale lab namespaces: ${stale.join(', ')}`);
    mkdirSync(path.join(outDir, 'logs'), { recursive: true });
    this.topo.createA();
    const [t, i, p, r2] = this.topo.sysctl(['net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes', 'net.ipv4.tcp_retries2']);
    const facts: KernelFacts = { keepaliveTimeS: t!, keepaliveIntvlS: i!, keepaliveProbes: p!, retries2: r2! };
    this.facts = facts;
    const total = profile.modes.length * profile.runs;
    this.progress.line(
      `vigil lab (${profile.name}): ${profile.modes.length} failure modes × ${profile.detectors.length} detectors × ${profile.runs} runs, ` +
        `cap ${profile.timings.capMs / 1000} s per run; seed ${this.options.seed}; results in ${outDir}`,
    );
    const runs: RunRecord[] = [];
    let n = 0;
    for (const modeId of profile.modes) {
      for (let run = 1; run <= profile.runs; run++) {
        n++;
        const record = await this.runOnce(MODES[modeId], run, `[${String(n).padStart(String(total).length)}/${total}]`);
        runs.push(record);
      }
    }
    const report = fold({
      version: 1,
      profile: profile.name,
      startedAt,
      finishedAt: new Date().toISOString(),
      seed: this.options.seed,
      machine: { kernel: release(), node: process.version, libuv: process.versions.uv ?? '?', facts },
      timings: profile.timings,
      modes: profile.modes.map((m) => ({ id: m, label: MODES[m].label })),
      detectors: profile.detectors,
      runs,
    });
    writeFileSync(path.join(outDir, 'results.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeTables(outDir, report);
    return report;
  }

  private guard(): void {
    if (this.stopped) throw new LabError('the lab was stopped');
  }

  private spawn(side: Side, ns: string, config: ChildConfig, log: string): Child {
    this.guard();
    const child = new Child(side, ns, path.join(LAB_DIR, 'src', 'internal', `${side}.ts`), LAB_DIR, config, log);
    this.children.add(child);
    return child;
  }

  private async runOnce(mode: ModeSpec, run: number, tag: string): Promise<RunRecord> {
    const { profile } = this.options;
    const facts = this.facts!;
    const timings = profile.timings;
    const detectors = profile.detectors;
    const config: ChildConfig = { observerAddr: OBSERVER_ADDR, basePort: BASE_PORT, detectors, timings };
    const logBase = path.join(this.options.outDir, 'logs', `${mode.id}-${run}`);
    const title = `${tag} ${mode.id} #${run}`;
    this.progress.status(`${title}: starting observer and peer…`);
    this.guard();
    this.topo.createB();
    const observer = this.spawn('observer', this.topo.nsA, config, `${logBase}-observer.log`);
    let peer: Child | null = null;
    try {
      await observer.until(() => observer.events.some((e) => e.ev === 'listening'), SETUP_TIMEOUT_MS, 'its listeners');
      const p = this.spawn('peer', this.topo.nsB, config, `${logBase}-peer.log`);
      peer = p;
      await Promise.all([
        observer.until(() => connectedCount(observer) === detectors.length, SETUP_TIMEOUT_MS, 'every connection'),
        p.until(() => connectedCount(p) === detectors.length, SETUP_TIMEOUT_MS, 'every connection'),
      ]);
      const connectedAt = monoMs();
      if (mode.write === 'trickle' || mode.write === 'flood') observer.send({ cmd: 'write', style: mode.write });
      // A random phase across one keepalive idle period and one heartbeat interval.
      const span = Math.max(timings.keepalive.idleMs, timings.vigil.intervalMs * (1 + timings.vigil.jitter));
      const phaseMs = 300 + this.random() * span;
      this.progress.status(`${title}: armed, failure in ${sec(phaseMs)}`);
      await sleep(connectedAt + phaseMs - monoMs());
      if (!observer.alive || !p.alive) throw new Error(`the ${observer.alive ? 'peer' : 'observer'} exited before the failure (see its log)`);
      const samples: { at: number; text: string }[] = [await sampleSs(this.topo)];
      const { t0, injectMs, rebuildMs } = await this.inject(mode, p, observer);
      const deadline = t0 + timings.capMs;
      for (let i = 0; i < Math.ceil(timings.capMs / SAMPLE_MS) + 40 && monoMs() < deadline; i++) {
        if (!observer.alive) throw new Error('the observer exited during the run (see its log)');
        if (detectors.every((d) => ended(observer.events, d.id) !== undefined)) break;
        samples.push(await sampleSs(this.topo));
        const fired = detectors.map((d) => {
          const e = ended(observer.events, d.id);
          return `${d.id} ${e ? sec(e.at - t0) : '…'}`;
        });
        this.progress.status(`${title}: +${sec(monoMs() - t0)}  ${fired.join('  ')}`);
        await sleep(Math.min(SAMPLE_MS, deadline - monoMs()));
      }
      const waitedMs = Math.min(monoMs(), deadline) - t0;
      const record = this.record(mode, run, { t0, injectMs, rebuildMs, waitedMs, phaseMs }, observer, p, samples, facts);
      const line = record.detectors.map((d) => `${d.detector} ${d.observer.detectedMs === null ? '—' : sec(d.observer.detectedMs)}${d.violation ? ' ✗' : ''}`);
      this.progress.line(`${title}: ${line.join('  ')}`);
      for (const d of record.detectors) if (d.violation) this.progress.line(`    ✗ ${d.detector}: ${d.violation}`);
      return record;
    } finally {
      await peer?.kill();
      await observer.kill();
      if (peer) this.children.delete(peer);
      this.children.delete(observer);
      if (!this.stopped) {
        this.topo.destroyB();
        this.topo.resetSocketsA();
      }
    }
  }

  /** Injects the failure; returns its time (the midpoint of the injecting command) and, for reboots, the rebuild time. */
  private async inject(mode: ModeSpec, peer: Child, observer: Child): Promise<{ t0: number; injectMs: number; rebuildMs: number | null }> {
    const timed = (f: () => void): { t0: number; injectMs: number } => {
      const a = monoMs();
      f();
      const b = monoMs();
      return { t0: (a + b) / 2, injectMs: b - a };
    };
    switch (mode.id) {
      case 'killed':
        return { ...timed(() => peer.signal('SIGKILL')), rebuildMs: null };
      case 'frozen-idle':
      case 'frozen-writing':
        return { ...timed(() => peer.signal('SIGSTOP')), rebuildMs: null };
      case 'blackhole-idle':
      case 'blackhole-data':
        return { ...timed(() => this.topo.blackhole()), rebuildMs: null };
      case 'link-down':
        return { ...timed(() => this.topo.linkDown()), rebuildMs: null };
      case 'reboot-quiet':
      case 'reboot-sending': {
        // Power cut: the link goes silent first, so the dying process's FIN or RST never leaves.
        const cut = timed(() => this.topo.blackhole());
        await peer.kill();
        this.guard();
        this.topo.destroyB();
        this.topo.createB();
        const rebuildMs = monoMs() - cut.t0;
        if (mode.write === 'trickle-after-reboot') observer.send({ cmd: 'write', style: 'trickle' });
        return { ...cut, rebuildMs };
      }
    }
  }

  private record(
    mode: ModeSpec,
    run: number,
    at: { t0: number; injectMs: number; rebuildMs: number | null; waitedMs: number; phaseMs: number },
    observer: Child,
    peer: Child,
    samples: readonly { at: number; text: string }[],
    facts: KernelFacts,
  ): RunRecord {
    const { profile } = this.options;
    const capMs = profile.timings.capMs;
    const outcome = (events: readonly ChildEvent[], id: string): Outcome => {
      const e = ended(events, id);
      if (e === undefined || e.at - at.t0 > capMs) return { detectedMs: null, cause: null, error: null };
      return { detectedMs: Math.round((e.at - at.t0) * 10) / 10, cause: e.cause, error: e.error };
    };
    const detectors: DetectorRun[] = profile.detectors.map((d, i) => {
      const port = BASE_PORT + i;
      const obs = outcome(observer.events, d.id);
      const peerOutcome = outcome(peer.events, d.id);
      const connected = observer.events.find((e): e is Extract<ChildEvent, { ev: 'connected' }> => e.ev === 'connected' && e.detector === d.id);
      const readback = connected?.readback ?? null;
      const exp = expected(mode.id, d, profile.timings, facts, at.rebuildMs !== null ? { rebuildMs: at.rebuildMs } : {});
      const suspect = observer.events.find((e) => e.ev === 'suspect' && e.detector === d.id && e.at >= at.t0);
      const view: ViewSample[] = samples.flatMap((s) =>
        parseSs(s.text)
          .filter((x) => x.localPort === port)
          .map((x) => ({ ...x, detector: d.id, atMs: Math.round(s.at - at.t0) })),
      );
      return {
        detector: d.id,
        observer: obs,
        peer: peerOutcome.detectedMs === null ? null : peerOutcome,
        suspectMs: suspect && suspect.ev === 'suspect' ? Math.round(suspect.at - at.t0) : null,
        readback,
        expected: exp,
        violation: readbackMismatch(d, readback, facts) ?? judge(exp, obs, capMs),
        view,
      };
    });
    return {
      mode: mode.id,
      run,
      phaseMs: Math.round(at.phaseMs),
      injectMs: Math.round(at.injectMs * 10) / 10,
      rebuildMs: at.rebuildMs === null ? null : Math.round(at.rebuildMs),
      waitedMs: Math.round(at.waitedMs),
      detectors,
    };
  }
}

/** Adds the per-(mode, detector) cells and the violations to the runs. */
function fold(report: Omit<LabReport, 'cells' | 'violations'>): LabReport {
  const cells: Cell[] = [];
  for (const m of report.modes) for (const d of report.detectors) cells.push(summarize(m.id, d.id, report.runs, report.timings.capMs));
  const violations = report.runs.flatMap((r) => r.detectors.filter((d) => d.violation !== null).map((d) => `${r.mode} / ${d.detector} run ${r.run}: ${d.violation!}`));
  return { ...report, cells, violations };
}

function writeTables(dir: string, report: LabReport): void {
  writeFileSync(path.join(dir, 'results.md'), markdown(report));
  writeFileSync(
    path.join(dir, 'chart.svg'),
    renderChart({ title: `Vigil lab (${report.profile}): time to detect`, capMs: report.timings.capMs, modes: report.modes, detectors: report.detectors, cells: report.cells }),
  );
}

/** Rewrites `dir`'s results.md and chart.svg from its results.json (the cells are folded again). */
export function render(dir: string): LabReport {
  const saved = JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')) as LabReport;
  const report = fold(saved);
  writeTables(dir, report);
  return report;
}
