/**
 * The 100,000-peer run: `vigil serve --workers K` (10 s heartbeats, 30 s timeout) with
 * `vigil load` processes of ~16,700 sessions each (descriptors) and one small load that
 * is SIGSTOPped. Measured from outside, as an operator would: `/api/workers` for each
 * worker's CPU, memory and event-loop delay, /proc for the primary's CPU, the `state`
 * lines on stdout for deaths (a frozen peer's detection time, anyone else's a false death).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import type { WorkerStats } from '@vigil/server';
import { LoadProcess, REPO, exited } from './processes.js';
import { percentile } from './report.js';

export interface WorkersPlan {
  readonly peers: number;
  readonly workers?: number;
  readonly perLoad?: number;
  readonly frozen?: number;
  readonly intervalMs?: number;
  readonly windowMs?: number;
  readonly progress: (line: string) => void;
  readonly log: (line: string) => void;
}

export interface WorkerFigures {
  readonly worker: number;
  readonly peers: number;
  readonly cpuPercent: number;
  readonly rssMb: number;
  readonly heapMb: number;
  /** Worst of the 10 s windows seen during the measurement, ms. */
  readonly loopP50: number;
  readonly loopP99: number;
  readonly loopMax: number;
}

export interface WorkersResult {
  readonly peers: number;
  readonly workers: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly loadProcesses: number;
  readonly connectSeconds: number;
  readonly peersSeen: number;
  /** Workers' and the primary's CPU over the window, % of one core (the box has 2). */
  readonly workersCpuPercent: number;
  readonly primaryCpuPercent: number;
  readonly loadsCpuPercent: number;
  readonly heartbeatsPerSecond: number;
  readonly cpuPerHeartbeatUs: number;
  readonly totalRssMb: number;
  readonly perWorker: readonly WorkerFigures[];
  readonly detectionMs: readonly number[];
  readonly silenceMs: readonly number[];
  readonly missed: number;
  readonly falseDeaths: Readonly<Record<string, number>>;
  readonly loadAverage: readonly number[];
  readonly error?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const CLI = resolve(REPO, 'packages/cli/src/bin.ts');
const TICKS_PER_SECOND = 100;

function getJson<T>(port: number, path: string): Promise<T> {
  return new Promise((done, reject) => {
    get({ host: '127.0.0.1', port, path, timeout: 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          done(JSON.parse(body) as T);
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    }).on('error', reject);
  });
}

/** User + system CPU of a process from /proc, µs. */
function procCpuUs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND) * 1e6;
  } catch {
    return 0;
  }
}

export async function runWorkers(plan: WorkersPlan): Promise<WorkersResult> {
  const intervalMs = plan.intervalMs ?? 10_000;
  const timeoutMs = 3 * intervalMs;
  const perLoad = plan.perLoad ?? 16_700;
  const frozen = plan.frozen ?? 20;
  const workers = plan.workers ?? Math.max(6, Math.ceil(plan.peers / 15_000));
  const windowMs = plan.windowMs ?? timeoutMs + 4000;
  const loads: LoadProcess[] = [];
  let server: ChildProcess | null = null;
  const deaths: { peer: string; at: number; silenceMs: number; cause: string | null }[] = [];
  let joined = 0;
  const falseDeaths: Record<string, number> = {};
  let frozenAt = Number.POSITIVE_INFINITY;
  const started = performance.now();
  try {
    server = spawn(
      process.execPath,
      ['--import', 'tsx', CLI, 'serve', '--workers', String(workers), '--tcp', '0', '--http', '0', '--interval', String(intervalMs), '--timeout', String(timeoutMs), '--log-level', 'warn'],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const proc = server;
    const listening = new Promise<{ tcp: number; http: number }>((done, reject) => {
      let partial = '';
      proc.stdout!.setEncoding('utf8');
      proc.stdout!.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          const e = JSON.parse(line) as { event: string; tcp: number; http: number; peer: string; from: string; to: string; cause: string | null; silenceMs: number };
          if (e.event === 'listening') done(e);
          else if (e.event === 'state' && e.from === 'connecting' && e.to === 'alive') joined++;
          else if (e.event === 'state' && (e.to === 'dead' || e.to === 'closed')) {
            if (e.peer.startsWith('frozen')) deaths.push({ peer: e.peer, at: Date.now(), silenceMs: e.silenceMs, cause: e.cause });
            else if (e.from !== 'connecting') falseDeaths[`${e.to}:${e.cause ?? 'unknown'}`] = (falseDeaths[`${e.to}:${e.cause ?? 'unknown'}`] ?? 0) + 1;
          }
        }
      });
      proc.once('exit', (code) => reject(new Error(`vigil serve --workers exited (${code}) before listening`)));
    });
    const { tcp, http } = await listening;
    plan.log(`workers run: ${workers} workers listening on tcp ${tcp}; connecting ${plan.peers} peers`);
    let normal = plan.peers - frozen;
    const processes = Math.ceil(normal / perLoad);
    for (let i = 0; i < processes; i++) {
      const n = Math.ceil(normal / (processes - i));
      normal -= n;
      loads.push(new LoadProcess({ server: 'vigil-tcp', port: tcp, clients: n, intervalMs, source: '127.0.0', idPrefix: `w${i}` }));
    }
    const stopped = new LoadProcess({ server: 'vigil-tcp', port: tcp, clients: frozen, intervalMs, source: '127.0.1', idPrefix: 'frozen' });
    loads.push(stopped);
    const ticker = setInterval(() => plan.progress(`workers run: ${joined}/${plan.peers} peers joined`), 1000);
    try {
      await Promise.all(loads.map((l) => l.ready));
    } finally {
      clearInterval(ticker);
    }
    const connectSeconds = (performance.now() - started) / 1000;
    plan.log(`workers run: ${plan.peers} peers up in ${connectSeconds.toFixed(0)} s; settling ${(intervalMs + 1000) / 1000} s`);
    await sleep(intervalMs + 1000);
    stopped.stop();
    frozenAt = Date.now();
    const before = await getJson<WorkerStats[]>(http, '/api/workers');
    const primaryBefore = procCpuUs(proc.pid);
    const loadsBefore = loads.reduce((a, l) => a + procCpuUs(l.proc.pid), 0);
    const t0 = performance.now();
    const windows: WorkerStats[][] = [];
    const until = Date.now() + windowMs;
    while (Date.now() < until) {
      plan.progress(`workers run: ${plan.peers} peers, ${frozen} frozen; measuring ${Math.ceil((until - Date.now()) / 1000)} s more`);
      await sleep(Math.min(5000, until - Date.now()));
      windows.push(await getJson<WorkerStats[]>(http, '/api/workers'));
    }
    const after = windows.at(-1)!;
    const seconds = (performance.now() - t0) / 1000;
    const primaryCpu = procCpuUs(proc.pid) - primaryBefore;
    const loadsCpu = loads.reduce((a, l) => a + procCpuUs(l.proc.pid), 0) - loadsBefore;
    const perWorker: WorkerFigures[] = after.map((w) => {
      const b = before.find((x) => x.pid === w.pid);
      const cpu = b ? w.cpuUserUs + w.cpuSystemUs - b.cpuUserUs - b.cpuSystemUs : Number.NaN;
      const seen = windows.map((ws) => ws.find((x) => x.pid === w.pid)?.eventLoop).filter((e) => e !== undefined);
      return {
        worker: w.worker,
        peers: w.peers,
        cpuPercent: cpu / 1e4 / seconds,
        rssMb: w.rssBytes / 2 ** 20,
        heapMb: w.heapUsedBytes / 2 ** 20,
        loopP50: Math.max(...seen.map((e) => e.p50Ms)),
        loopP99: Math.max(...seen.map((e) => e.p99Ms)),
        loopMax: Math.max(...seen.map((e) => e.maxMs)),
      };
    });
    const workerCpu = perWorker.reduce((a, w) => a + w.cpuPercent, 0);
    const pongs = after.reduce((a, w) => a + w.pongsReceived, 0) - before.reduce((a, w) => a + w.pongsReceived, 0);
    const detectionMs = deaths.map((d) => d.at - frozenAt).sort((a, b) => a - b);
    return {
      peers: plan.peers,
      workers,
      intervalMs,
      timeoutMs,
      loadProcesses: loads.length,
      connectSeconds,
      peersSeen: after.reduce((a, w) => a + w.peers, 0),
      workersCpuPercent: workerCpu,
      primaryCpuPercent: primaryCpu / 1e4 / seconds,
      loadsCpuPercent: loadsCpu / 1e4 / seconds,
      heartbeatsPerSecond: pongs / seconds,
      cpuPerHeartbeatUs: pongs > 0 ? (workerCpu * 1e4 * seconds) / pongs : Number.NaN,
      totalRssMb: perWorker.reduce((a, w) => a + w.rssMb, 0),
      perWorker,
      detectionMs,
      silenceMs: deaths.map((d) => d.silenceMs).sort((a, b) => a - b),
      missed: Math.max(0, frozen - deaths.length),
      // A copy: the teardown below closes every peer, which is no death of the run.
      falseDeaths: { ...falseDeaths },
      loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    };
  } catch (error) {
    plan.log(`workers run failed: ${error instanceof Error ? error.message : String(error)}`);
    return {
      peers: plan.peers,
      workers,
      intervalMs,
      timeoutMs,
      loadProcesses: loads.length,
      connectSeconds: (performance.now() - started) / 1000,
      peersSeen: joined,
      workersCpuPercent: Number.NaN,
      primaryCpuPercent: Number.NaN,
      loadsCpuPercent: Number.NaN,
      heartbeatsPerSecond: Number.NaN,
      cpuPerHeartbeatUs: Number.NaN,
      totalRssMb: Number.NaN,
      perWorker: [],
      detectionMs: [],
      silenceMs: [],
      missed: frozen,
      falseDeaths: { ...falseDeaths },
      loadAverage: loadavg(),
      error: error instanceof Error ? error.message : String(error),
    };
  } finally {
    for (const l of loads) l.kill();
    if (server !== null) {
      server.kill('SIGTERM');
      await exited(server, 10_000);
      if (server.exitCode === null) server.kill('SIGKILL');
    }
  }
}

const fmt = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : '–');

export function workersTable(r: WorkersResult): string[] {
  const falseDeaths = Object.values(r.falseDeaths).reduce((a, b) => a + b, 0);
  const out = [
    `${r.peers.toLocaleString('en-US')} peers (${r.peersSeen.toLocaleString('en-US')} seen by the workers) over ${r.workers} workers, ${r.loadProcesses} load processes on the same 2 cores; heartbeat every ${r.intervalMs / 1000} s, timeout ${r.timeoutMs / 1000} s; connected in ${fmt(r.connectSeconds, 0)} s; load average ${r.loadAverage.map((l) => fmt(l, 2)).join(' ')}.${r.error ? ` **Failed: ${r.error}**` : ''}`,
    '',
    '| total | value |',
    '|---|---:|',
    `| workers' CPU (% of one core) | ${fmt(r.workersCpuPercent)} |`,
    `| primary's CPU (% of one core) | ${fmt(r.primaryCpuPercent)} |`,
    `| load processes' CPU (% of one core) | ${fmt(r.loadsCpuPercent)} |`,
    `| heartbeats per second | ${fmt(r.heartbeatsPerSecond, 0)} |`,
    `| workers' CPU per heartbeat (µs) | ${fmt(r.cpuPerHeartbeatUs)} |`,
    `| workers' RSS, total (MB) | ${fmt(r.totalRssMb, 0)} |`,
    `| false deaths | ${falseDeaths}${falseDeaths ? ` (${JSON.stringify(r.falseDeaths)})` : ''} |`,
    `| frozen peers detected | ${r.detectionMs.length} of ${r.detectionMs.length + r.missed} |`,
    `| detection p50 / p99 from SIGSTOP (ms) | ${fmt(percentile(r.detectionMs, 50), 0)} / ${fmt(percentile(r.detectionMs, 99), 0)} |`,
    `| silence at death p50 / p99, server's view (ms) | ${fmt(percentile(r.silenceMs, 50), 0)} / ${fmt(percentile(r.silenceMs, 99), 0)} |`,
    '',
    `Goal "100,000 peers across workers at 10 s heartbeats with zero false deaths": ${!r.error && r.peersSeen >= r.peers - 20 && falseDeaths === 0 ? 'met' : '**not met**'}.`,
    '',
    '| worker | peers | CPU (% of a core) | RSS (MB) | JS heap (MB) | event-loop delay p50 / p99 / max (ms, worst 10 s window) |',
    '|---:|---:|---:|---:|---:|---:|',
    ...r.perWorker.map((w) => `| ${w.worker} | ${w.peers.toLocaleString('en-US')} | ${fmt(w.cpuPercent)} | ${fmt(w.rssMb, 0)} | ${fmt(w.heapMb, 0)} | ${fmt(w.loopP50)} / ${fmt(w.loopP99)} / ${fmt(w.loopMax)} |`),
  ];
  return out;
}
