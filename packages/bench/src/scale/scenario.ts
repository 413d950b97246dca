/**
 * One scenario of the scale benchmark: one server process of one kind at one heartbeat
 * interval, grown step by step to each peer count. At each step the new load connects
 * (setup rate), a small dedicated load process is SIGSTOPped at the start of a window
 * (its peers are the frozen ones), and over the window the server reports CPU,
 * heartbeats, event-loop delay and the deaths it saw; then memory after a forced GC.
 */
import { loadavg } from 'node:os';
import type { MemoryReport, Timing } from './ipc.js';
import { LoadProcess, ServerProcess, type ServerKind } from './processes.js';

export interface ScenarioPlan {
  readonly server: ServerKind;
  readonly timing: Timing;
  /** Peer counts to grow to, ascending; each includes its frozen peers. */
  readonly levels: readonly number[];
  readonly frozen: number;
  /** Most clients one load process holds (descriptors). */
  readonly perLoad: number;
  readonly settleMs: number;
  readonly windowMs: number;
  readonly progress: (line: string) => void;
}

export interface StepResult {
  readonly server: ServerKind;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly peers: number;
  /** Server CPU per heartbeat exchange, µs, and as % of one core. */
  readonly cpuPerHeartbeatUs: number;
  readonly cpuPercent: number;
  /** Share of the server's CPU spent in the kernel, %. */
  readonly systemShare: number;
  readonly heartbeatsPerSecond: number;
  /** Growth over the server's own memory at zero peers, per peer, bytes (after GC). */
  readonly rssPerPeer: number;
  readonly heapPerPeer: number;
  readonly externalPerPeer: number;
  readonly loop: { readonly p50: number; readonly p99: number; readonly max: number };
  /** New connections per second while this step's load connected, as the server accepted them. */
  readonly setupPerSecond: number;
  /** Ms from SIGSTOP to the server's verdict, for each frozen peer detected in the window. */
  readonly detectionMs: readonly number[];
  /** Vigil only: the silence the server saw at each frozen peer's death, ms. */
  readonly silenceMs: readonly number[];
  readonly missed: number;
  /** Deaths of peers that were not frozen since the server started, by cause. */
  readonly falseDeaths: Readonly<Record<string, number>>;
  readonly loadAverage: readonly number[];
  readonly memory: MemoryReport;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runScenario(plan: ScenarioPlan): Promise<StepResult[]> {
  const { server: kind, timing, frozen } = plan;
  const label = `${kind} ${timing.intervalMs / 1000} s`;
  const server = new ServerProcess(kind, timing, '127.0.1.');
  const loads: LoadProcess[] = [];
  const results: StepResult[] = [];
  try {
    const port = await server.port;
    await sleep(500);
    const base = await server.request({ type: 'memory' }, 'memory');
    let normal = 0;
    for (const [step, peers] of plan.levels.entries()) {
      await server.request({ type: 'setup-reset' }, 'ok');
      const added: LoadProcess[] = [];
      let want = peers - frozen - normal;
      let part = 0;
      while (want > 0) {
        const n = Math.min(want, plan.perLoad);
        added.push(new LoadProcess({ server: kind, port, clients: n, intervalMs: timing.intervalMs, source: '127.0.0', idPrefix: `s${step}p${part++}` }));
        want -= n;
      }
      const stopped = new LoadProcess({ server: kind, port, clients: frozen, intervalMs: timing.intervalMs, source: '127.0.1', idPrefix: `frozen${step}` });
      added.push(stopped);
      loads.push(...added);
      const ticker = setInterval(() => plan.progress(`${label}: connecting to ${peers} peers… ${added[0]?.progress ?? ''}`), 1000);
      try {
        await Promise.all(added.map((l) => l.ready));
      } finally {
        clearInterval(ticker);
      }
      normal = peers - frozen;
      const setup = await server.request({ type: 'read' }, 'report');
      const setupPerSecond = setup.report.acceptSpanMs > 0 ? (setup.report.accepted / setup.report.acceptSpanMs) * 1000 : Number.NaN;
      plan.progress(`${label}: ${peers} peers up; settling ${plan.settleMs / 1000} s`);
      await sleep(plan.settleMs);
      stopped.stop();
      const frozenAt = Date.now();
      await server.request({ type: 'window' }, 'ok');
      const until = Date.now() + plan.windowMs;
      while (Date.now() < until) {
        plan.progress(`${label}: ${peers} peers, ${frozen} frozen; measuring ${Math.ceil((until - Date.now()) / 1000)} s more`);
        await sleep(Math.min(1000, until - Date.now()));
      }
      const { report } = await server.request({ type: 'read' }, 'report');
      const memory = await server.request({ type: 'memory' }, 'memory');
      stopped.kill();
      const seconds = report.windowMs / 1000;
      results.push({
        server: kind,
        intervalMs: timing.intervalMs,
        timeoutMs: timing.timeoutMs,
        peers,
        cpuPerHeartbeatUs: report.heartbeats > 0 ? report.cpuUs / report.heartbeats : Number.NaN,
        cpuPercent: report.cpuUs / 1e4 / seconds,
        systemShare: report.cpuUs > 0 ? (100 * report.systemUs) / report.cpuUs : Number.NaN,
        heartbeatsPerSecond: report.heartbeats / seconds,
        rssPerPeer: (memory.rss - base.rss) / peers,
        heapPerPeer: (memory.heapUsed - base.heapUsed) / peers,
        externalPerPeer: (memory.external - base.external) / peers,
        loop: { p50: report.loop.p50, p99: report.loop.p99, max: report.loop.max },
        setupPerSecond,
        detectionMs: report.frozenDeaths.map((d) => d.at - frozenAt).sort((a, b) => a - b),
        silenceMs: report.frozenDeaths.flatMap((d) => (d.silenceMs === null ? [] : [d.silenceMs])).sort((a, b) => a - b),
        missed: Math.max(0, frozen - report.frozenDeaths.length),
        falseDeaths: report.falseDeaths,
        loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
        memory: { rss: memory.rss, heapUsed: memory.heapUsed, external: memory.external, arrayBuffers: memory.arrayBuffers },
      });
    }
    return results;
  } finally {
    server.kill();
    for (const l of loads) l.kill();
  }
}
