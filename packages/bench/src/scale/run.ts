/**
 * `pnpm bench`: many peers per box, Vigil side by side with ws (README recipe),
 * Socket.IO 4 and a naive `net` server, over loopback. Each server runs in its own
 * process (forked with --expose-gc), the load in others; prints the tables with a
 * progress line on stderr and writes them with the raw figures to results/scale-<time>/.
 *
 *   pnpm bench [--quick] [--only vigil-tcp,ws,...] [--intervals 1000,10000] [--levels 1000,10000,19900]
 *              [--skip-workers] [--skip-throughput] [--out DIR]
 *
 * Full run: 1 s and 10 s heartbeats at 1k, 10k and 19.9k peers, a 100,000-peer run
 * over `vigil serve --workers`, and throughput: about 25 minutes. `--quick`: 1 s at 1k
 * and 5k peers, short windows, throughput only: under 3 minutes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { HEARTBEAT_DEFAULTS } from '@vigil/core';
import { REPO, SERVER_KINDS, killAll, type ServerKind } from './processes.js';
import { goals, goalsTable, ratioTable, resultsTable } from './report.js';
import { runScenario, type StepResult } from './scenario.js';
import { runThroughput, throughputTable } from './throughput.js';
import { runWorkers, workersTable } from './workers-run.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    intervals: { type: 'string' },
    levels: { type: 'string' },
    'skip-workers': { type: 'boolean', default: false },
    'skip-throughput': { type: 'boolean', default: false },
    'workers-peers': { type: 'string' },
    out: { type: 'string' },
  },
});
const quick = values.quick;
const servers = (values.only?.split(',') ?? [...SERVER_KINDS]) as ServerKind[];
for (const s of servers) if (!SERVER_KINDS.includes(s)) throw new Error(`unknown server ${s}; one of ${SERVER_KINDS.join(', ')}`);
const intervals = values.intervals?.split(',').map(Number) ?? (quick ? [1000] : [1000, 10_000]);
const levels = values.levels?.split(',').map(Number) ?? (quick ? [1000, 5000] : [1000, 10_000, 19_900]);
const FROZEN = 20;
const PER_LOAD = 9_980;

let lastProgress = '';
const progress = (line: string): void => {
  const text = `[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`.slice(0, 160);
  process.stderr.write(`\r${text.padEnd(Math.max(lastProgress.length, text.length))}`);
  lastProgress = text;
};
const log = (line: string): void => {
  process.stderr.write(`\r${''.padEnd(lastProgress.length)}\r${line}\n`);
  lastProgress = '';
};

const started = performance.now();
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}`;
log(`scale bench: ${servers.join(', ')}; intervals ${intervals.join(', ')} ms; peers ${levels.join(', ')}; ${machine}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

const results: StepResult[] = [];
for (const intervalMs of intervals) {
  const timing = { intervalMs, timeoutMs: 3 * intervalMs };
  // Long enough for the next heartbeat cycle to have started everywhere, and for the frozen peers to be detected.
  const settleMs = quick ? 1500 : intervalMs + 1000;
  const windowMs = quick ? Math.max(5000, timing.timeoutMs + 1500) : Math.max(10_000, timing.timeoutMs + 2000);
  for (const server of servers) {
    const steps = await runScenario({ server, timing, levels, frozen: FROZEN, perLoad: PER_LOAD, settleMs, windowMs, progress });
    for (const s of steps) {
      log(
        `${server} ${intervalMs / 1000} s ${s.peers} peers: ${s.cpuPerHeartbeatUs.toFixed(1)} µs/heartbeat, ${s.cpuPercent.toFixed(1)}% core, heap ${(s.heapPerPeer / 1024).toFixed(2)} KB/peer, rss ${(s.rssPerPeer / 1024).toFixed(2)} KB/peer, loop p99 ${s.loop.p99.toFixed(1)} ms, detected ${s.detectionMs.length}/${FROZEN}, load ${s.loadAverage[0]}`,
      );
    }
    results.push(...steps);
    // Let the kernel reap the last scenario's sockets before the next one dials.
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const lines: string[] = [];
const say = (s = ''): void => {
  lines.push(s);
};
say('## Many peers per box');
say();
say(`Machine: ${machine}. Load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}. Command: \`pnpm bench${quick ? ' --quick' : ''}\`.`);
say();
say(...[]);
for (const l of resultsTable(results)) say(l);
say('### Vigil ÷ the alternatives (below 1× favours Vigil)');
say();
for (const l of ratioTable(results)) say(l);
say();
say('### Goals');
say();
for (const l of goalsTable(goals(results, Math.min(HEARTBEAT_DEFAULTS.tickMs, 100)))) say(l);
say();

let workers: Awaited<ReturnType<typeof runWorkers>> | null = null;
if (!quick && !values['skip-workers']) {
  workers = await runWorkers({ peers: Number(values['workers-peers'] ?? 100_000), progress, log });
  say('## 100,000 peers over `vigil serve --workers`');
  say();
  for (const l of workersTable(workers)) say(l);
  say();
}

let throughput: Awaited<ReturnType<typeof runThroughput>> | null = null;
if (!values['skip-throughput']) {
  throughput = await runThroughput({ quick, progress });
  say('## Throughput: small messages through one connection');
  say();
  for (const l of throughputTable(throughput)) say(l);
  say();
}

killAll();
log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
process.stdout.write(`${lines.join('\n')}\n`);
const out = values.out ?? resolve(REPO, 'results', `scale-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}`);
mkdirSync(out, { recursive: true });
writeFileSync(resolve(out, 'report.md'), `${lines.join('\n')}\n`);
writeFileSync(resolve(out, 'results.json'), `${JSON.stringify({ machine, quick, results, workers, throughput }, null, 2)}\n`);
log(`wrote ${out}/report.md and results.json`);
process.exit(0);
