/**
 * `pnpm bench:detectors`: replays every trace in `packages/bench/traces/` through the
 * real detectors and peer monitor in virtual time, and reports Chen–Toueg–Aguilera
 * quality of service — detection time T_D, mistake rate λ_M, query accuracy P_A — for a
 * sweep of each detector's threshold and for both at their defaults. Prints the tables
 * and writes them, the raw points and an SVG of the curves to results/detectors-<time>/.
 *
 *   pnpm bench:detectors [--traces DIR] [--only a,b] [--out DIR] [--quick]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULTS, FIXED_SWEEP, PHI_SWEEP, sweepConfigs } from './configs.js';
import { matchAtEqualMistakes, num, summarize, table, type Point } from './quality.js';
import { replay, type ReplayResult } from './replay.js';
import { curveSvg, type Panel } from './svg.js';
import { peerHours, readTraces, type Trace } from './traces.js';

const REPO = resolve(import.meta.dirname, '../../../..');
const COLORS = { fixed: '#1f6fb4', phi: '#e8710a' } as const;

const { values } = parseArgs({
  options: {
    traces: { type: 'string', default: resolve(REPO, 'packages/bench/traces') },
    only: { type: 'string' },
    out: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});
const only = values.only?.split(',');
const traces = readTraces(values.traces).filter((t) => only === undefined || only.includes(t.name));
if (traces.length === 0) throw new Error(`no traces in ${values.traces}${only ? ` named ${only.join(', ')}` : ''}`);
const replayOptions = values.quick ? { crashEvery: 60 } : { crashEvery: 20 };
const configs = [...sweepConfigs(), ...DEFAULTS];

const lines: string[] = [];
const say = (s = ''): void => {
  lines.push(s);
  process.stdout.write(`${s}\n`);
};

// Replay (the only slow part), with a progress line on stderr.
const started = performance.now();
const raw = new Map<string, ReplayResult[]>();
traces.forEach((trace, i) => {
  process.stderr.write(`\r[${i + 1}/${traces.length}] ${trace.name}: ${configs.length} configurations × ${trace.peers.length} peers, ${peerHours(trace).toFixed(1)} peer-hours…`.padEnd(100));
  raw.set(trace.name, replay(trace, configs, replayOptions));
});
process.stderr.write(`\r${`replayed ${traces.length} traces in ${((performance.now() - started) / 1000).toFixed(1)} s`.padEnd(100)}\n`);

const pointsOf = (selected: readonly Trace[], name: string): Point[] =>
  configs.map((_, c) => summarize(name, selected.map((t) => ({ result: raw.get(t.name)![c]!, intervalMs: t.intervalMs }))));
const perTrace = new Map(traces.map((t) => [t.name, pointsOf([t], t.name)]));
const jittery = traces.filter((t) => t.jittery);
const pooled = jittery.length > 1 ? pointsOf(jittery, 'pooled jittery') : null;
const isSweep = (p: Point) => !Number.isNaN(p.threshold);

say('# Vigil failure-detector quality (Chen, Toueg, Aguilera 2002)');
say();
say(`Traces: ${traces.map((t) => `${t.name}${t.jittery ? '*' : ''} (${peerHours(t).toFixed(1)} peer-h, interval ${t.intervalMs} ms)`).join(', ')}; * = jittery.`);
say(`Sweep (suspect verdict alone, no hard cap): fixed timeout ${FIXED_SWEEP.join(', ')} × interval; phi threshold ${PHI_SWEEP.join(', ')} (other phi parameters at their defaults).`);
say('Crashes injected after every ' + String(replayOptions.crashEvery) + 'th heartbeat of each peer, after a 120-heartbeat history; T_D is measured from the last heartbeat, in intervals.');
say('FS/h = false suspicions per peer-hour (λ_M); P_A = query accuracy; FD/h = false deaths per peer-hour.');

for (const t of traces) {
  say();
  say(`## ${t.name}${t.jittery ? ' (jittery)' : ''}: ${t.description}`);
  say();
  const pts = perTrace.get(t.name)!.filter(isSweep);
  say(table(['config', 'FS/h', 'P_A', 'T_D mean', 'T_D p99'], pts.map((p) => [p.label, num(p.suspicionsPerHour), num(p.queryAccuracy, 5), num(p.tdSuspect, 3), num(p.tdSuspectP99, 3)])));
}

const comparable = [...jittery.map((t) => [t.name, perTrace.get(t.name)!] as const), ...(pooled ? [['pooled jittery', pooled] as const] : [])];
say();
say('## At equal mistake rates (jittery traces): for each point of the fixed detector’s frontier, the fastest phi point with no more false suspicions');
say();
const summaries: { name: string; zero: number; median: number; best: number; worst: number }[] = [];
for (const [name, pts] of comparable) {
  const matches = matchAtEqualMistakes(pts);
  say(`### ${name}`);
  say(
    table(
      ['fixed', 'FS/h', 'T_D', 'best phi', 'FS/h', 'T_D', 'phi sooner by'],
      matches.map((m) => [
        m.fixed.label,
        num(m.fixed.suspicionsPerHour),
        num(m.fixed.tdSuspect, 3),
        m.phi?.label ?? '(none)',
        m.phi ? num(m.phi.suspicionsPerHour) : '—',
        m.phi ? num(m.phi.tdSuspect, 3) : '—',
        Number.isNaN(m.speedup) ? '—' : `${(m.speedup * 100).toFixed(1)}%`,
      ]),
    ),
  );
  // The zero-mistake comparison: the fastest fixed point with none against the fastest phi point with none.
  const zeroFixed = matches.filter((m) => m.fixed.suspicionsPerHour === 0).sort((a, b) => a.fixed.tdSuspect - b.fixed.tdSuspect)[0];
  const speedups = matches.map((m) => m.speedup).filter((s) => !Number.isNaN(s)).sort((a, b) => a - b);
  summaries.push({
    name,
    zero: zeroFixed?.speedup ?? Number.NaN,
    median: speedups.length ? speedups[Math.floor(speedups.length / 2)]! : Number.NaN,
    best: speedups.length ? speedups[speedups.length - 1]! : Number.NaN,
    worst: speedups.length ? speedups[0]! : Number.NaN,
  });
  say();
}

say('## Defaults: both verdicts and the hard cap (fixed: suspect 1.5×, dead 3× interval; phi: PHI_DEFAULTS, capped at 3×)');
say();
say(
  table(
    ['trace', 'detector', 'FS/h', 'FD/h', 'P_A', 'T_D suspect', 'T_D dead', 'T_D dead max'],
    traces.flatMap((t) =>
      perTrace
        .get(t.name)!
        .filter((p) => !isSweep(p))
        .map((p) => [t.name, p.label, num(p.suspicionsPerHour), num(p.deathsPerHour), num(p.queryAccuracy, 5), num(p.tdSuspect, 3), num(p.tdDead, 3), num(p.tdDeadMax, 3)]),
    ),
  ),
);

say();
say('## Goals');
say();
for (const s of summaries) {
  const pct = (x: number) => (Number.isNaN(x) ? '—' : `${(x * 100).toFixed(1)}%`);
  const met = s.median >= 0.3 && (Number.isNaN(s.zero) || s.zero >= 0.3);
  say(
    `- ${s.name}: phi sooner than fixed at equal false-suspicion rate by ${pct(s.median)} (median over the fixed frontier; worst ${pct(s.worst)}, best ${pct(s.best)}); ` +
      `at zero false suspicions ${pct(s.zero)}. Goal (≥ 30% sooner): ${met ? 'met' : 'not met'}.`,
  );
}
const gc = perTrace.get('gc-pauses')?.find((p) => p.label === 'phi (defaults)');
if (gc) say(`- gc-pauses, phi at its defaults: ${num(gc.deathsPerHour)} false deaths per peer-hour (${Math.round(gc.deathsPerHour * gc.peerHours)} in ${gc.peerHours.toFixed(1)} peer-hours). Goal (none): ${gc.deathsPerHour === 0 ? 'met' : 'not met'}.`);

// Files: the tables, the points, the figure.
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const out = values.out ?? resolve(REPO, 'results', `detectors-${stamp}`);
mkdirSync(out, { recursive: true });
writeFileSync(resolve(out, 'table.md'), `${lines.join('\n')}\n`);
writeFileSync(resolve(out, 'points.json'), `${JSON.stringify({ traces: [...perTrace.values()].flat(), pooled }, null, 1)}\n`);
const panels: Panel[] = comparable.map(([name, pts]) => ({
  title: name,
  series: (['fixed', 'phi'] as const).map((family) => ({
    name: family,
    color: COLORS[family],
    points: pts.filter((p) => p.family === family && isSweep(p)).map((p) => ({ x: p.suspicionsPerHour, y: p.tdSuspect })),
  })),
  markers: pts.filter((p) => !isSweep(p)).map((p) => ({ x: p.suspicionsPerHour, y: p.tdSuspect, label: p.label, color: COLORS[p.family] })),
}));
for (const t of traces.filter((t) => !t.jittery)) {
  const pts = perTrace.get(t.name)!;
  panels.push({
    title: t.name,
    series: (['fixed', 'phi'] as const).map((family) => ({
      name: family,
      color: COLORS[family],
      points: pts.filter((p) => p.family === family && isSweep(p)).map((p) => ({ x: p.suspicionsPerHour, y: p.tdSuspect })),
    })),
    markers: pts.filter((p) => !isSweep(p)).map((p) => ({ x: p.suspicionsPerHour, y: p.tdSuspect, label: p.label, color: COLORS[p.family] })),
  });
}
writeFileSync(
  resolve(out, 'curve.svg'),
  curveSvg('Detection time vs mistake rate (suspect verdict), per trace', panels, [
    { name: 'fixed timeout (sweep)', color: COLORS.fixed },
    { name: 'phi accrual (sweep)', color: COLORS.phi },
    { name: 'defaults (square)', color: '#555', marker: true },
  ]),
);
process.stderr.write(`wrote ${out}/{table.md,points.json,curve.svg}\n`);
