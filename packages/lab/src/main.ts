/**
 * `pnpm lab [--quick] [--runs N] [--modes a,b] [--detectors x,y] [--seed N] [--out DIR]`:
 * parses the command line, checks for root and the tools, runs the lab with cleanup
 * wired to every way out (Ctrl-C, SIGTERM, SIGHUP, a crash, exit), prints the table
 * and returns the exit code: 0 all as expected, 1 a violation, 2 the lab could not run.
 */
import path from 'node:path';
import { adaptiveFactory } from './internal/adaptive.js';
import { Lab, render } from './lab.js';
import { LabError, checkPrerequisites } from './netns.js';
import { Progress } from './progress.js';
import { markdown } from './results.js';
import { MODE_IDS, profile, type ModeId, type Profile } from './spec.js';

export const USAGE = `usage: pnpm lab [--quick] [--runs N] [--modes m1,m2] [--detectors d1,d2] [--seed N] [--out DIR]

Measures who detects a dead peer, and when: kernel keepalive and TCP_USER_TIMEOUT
(set through Vigil's socket options) against Vigil's heartbeat, under failures injected
in two network namespaces it creates (needs root, iproute2 and nftables).

  --quick        the CI subset: frozen-idle, blackhole-idle, blackhole-data against
                 tuned keepalive, keepalive + user timeout and Vigil (about 2 minutes)
  --runs N       runs per failure mode (default 3)
  --modes        failure modes, from: ${MODE_IDS.join(', ')}
  --detectors    detectors, from: ka-tuned, ka-node, ka-system, ut-only, ka+ut, vigil-fixed, vigil-adaptive
  --seed N       seed for the random failure phases (default: time-based, printed)
  --out DIR      results folder (default results/lab-<timestamp>)
  --render DIR   only rewrite DIR's results.md and chart.svg from its results.json (no root)

Exit code: 0 every outcome as expected, 1 a detector outside its expected window or
Vigil missing a failure, 2 the lab could not run.`;

interface Args {
  quick: boolean;
  runs?: number;
  modes?: string[];
  detectors?: string[];
  seed?: number;
  out?: string;
  render?: string;
  help: boolean;
}

function parse(argv: readonly string[]): Args {
  const args: Args = { quick: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new LabError(`${a} needs a value`);
      return v;
    };
    const int = (): number => {
      const v = value();
      if (!/^\d+$/.test(v)) throw new LabError(`${a} needs a whole number, got ${v}`);
      return Number(v);
    };
    if (a === '--quick') args.quick = true;
    else if (a === '--full') args.quick = false;
    else if (a === '--help' || a === '-h') args.help = true;
    else if (a === '--runs') args.runs = int();
    else if (a === '--seed') args.seed = int();
    else if (a === '--modes') args.modes = value().split(',');
    else if (a === '--detectors') args.detectors = value().split(',');
    else if (a === '--out') args.out = value();
    else if (a === '--render') args.render = value();
    else if (a !== '--') throw new LabError(`unknown option ${a}\n\n${USAGE}`);
  }
  if (args.runs !== undefined && args.runs < 1) throw new LabError('--runs must be at least 1');
  return args;
}

function select(args: Args, progress: Progress): Profile {
  const adaptive = adaptiveFactory() !== null;
  const base = profile(args.quick ? 'quick' : 'full', { ...(args.runs !== undefined ? { runs: args.runs } : {}), adaptive });
  if (!args.quick && !adaptive) progress.line('note: @vigil/core has no adaptive detector yet; vigil-adaptive is skipped');
  let modes = base.modes;
  if (args.modes) {
    const bad = args.modes.filter((m) => !(MODE_IDS as readonly string[]).includes(m));
    if (bad.length > 0) throw new LabError(`unknown mode(s) ${bad.join(', ')}; choose from ${MODE_IDS.join(', ')}`);
    modes = args.modes as ModeId[];
  }
  let detectors = base.detectors;
  if (args.detectors) {
    const all = profile('full', { adaptive }).detectors;
    const bad = args.detectors.filter((d) => !all.some((x) => x.id === d));
    if (bad.length > 0) throw new LabError(`unknown or unavailable detector(s) ${bad.join(', ')}; choose from ${all.map((d) => d.id).join(', ')}`);
    detectors = all.filter((d) => args.detectors!.includes(d.id));
  }
  return { ...base, modes, detectors };
}

const SIGNAL_CODES: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/** 0: every outcome as expected; 1: a violation; 2: the lab could not run (or bad arguments). */
export type LabExitCode = 0 | 1 | 2;

/** Runs the lab from command-line arguments; resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<LabExitCode> {
  const progress = new Progress();
  let lab: Lab | null = null;
  const cleanup = (): void => lab?.cleanup();
  // Set once a signal arrived: the run's own error paths then wait for the signal's cleanup and exit.
  let stopping: Promise<void> | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping !== null) return;
    progress.line(`\n${signal}: stopping; removing the lab's processes and namespaces`);
    // Asynchronous, so the event loop keeps answering: tsx SIGKILLs a child that does not
    // acknowledge a relayed signal within 30 ms, which a blocking cleanup would not.
    stopping = (lab?.cleanupAsync() ?? Promise.resolve()).then(
      () => process.exit(SIGNAL_CODES[signal] ?? 1),
      () => process.exit(SIGNAL_CODES[signal] ?? 1),
    );
  };
  const onCrash = (error: unknown): void => {
    progress.line(`lab crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    cleanup();
    process.exit(2);
  };
  const signals = Object.keys(SIGNAL_CODES) as NodeJS.Signals[];
  try {
    const args = parse(argv);
    if (args.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (args.render !== undefined) {
      const dir = path.resolve(args.render);
      const report = render(dir);
      process.stdout.write(markdown(report));
      progress.line(`\nrewrote ${path.join(dir, 'results.md')} and chart.svg from results.json`);
      return report.violations.length === 0 ? 0 : 1;
    }
    checkPrerequisites();
    const chosen = select(args, progress);
    const outDir = path.resolve(args.out ?? path.join('results', `lab-${new Date().toISOString().replace(/[:.]/g, '-')}`));
    lab = new Lab({ profile: chosen, outDir, seed: args.seed ?? Date.now() % 2 ** 31, progress });
    for (const s of signals) process.on(s, onSignal);
    process.on('exit', cleanup);
    process.on('uncaughtException', onCrash);
    process.on('unhandledRejection', onCrash);
    const report = await lab.run();
    progress.line('');
    process.stdout.write(markdown(report));
    progress.line(`\nresults: ${path.join(outDir, 'results.json')}, results.md, chart.svg`);
    return report.violations.length === 0 ? 0 : 1;
  } catch (error) {
    if (stopping !== null) await stopping;
    progress.line(error instanceof LabError ? `lab: ${error.message}` : `lab failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 2;
  } finally {
    if (stopping !== null) await stopping;
    cleanup();
    for (const s of signals) process.off(s, onSignal);
    process.off('exit', cleanup);
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
  }
}
