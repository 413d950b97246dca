/**
 * `vigil load`: argument parsing in-process, then the contract end to end: a real
 * `vigil serve` and `vigil load` over loopback, the one `ready` line, sessions spread
 * over source addresses and answering heartbeats (read back through the HTTP API),
 * exit 0 on a signal; and `vigil serve --workers` holding the same load in two workers
 * behind one port, with one API for both.
 */
import type { PeerInfo, WorkerStats } from '@vigil/server';
import { usageErrorOf } from '../support/usage-error.js';
import { LOAD_DEFAULTS, descriptorLimit, parseLoadArgs } from '../../src/commands/load.js';
import { parseServeArgs } from '../../src/commands/serve.js';
import { httpGet, killAllCli, pollUntil, startCli, type CliProcess } from '../support/cli-process.js';

const INTERVAL = 200;
const TIMEOUT = 800;
/** Generous bound for starting a process under tsx on a loaded machine, ms. */
const START_MS = 20_000;

afterEach(async () => {
  await killAllCli();
});

describe('parseLoadArgs', () => {
  it('takes the URL and the client count, with defaults for the rest', () => {
    expect(parseLoadArgs(['tcp://127.0.0.1:9000', '--clients', '500'])).toEqual({
      url: 'tcp://127.0.0.1:9000',
      clients: 500,
      idPrefix: 'load',
      source: '127.0.0',
      concurrency: LOAD_DEFAULTS.concurrency,
    });
  });

  it('takes the interval, id prefix, source /24 and concurrency', () => {
    expect(parseLoadArgs(['ws://127.0.0.1:9000/', '--clients=3', '--interval', '1000', '--id-prefix', 'bench', '--source', '127.0.9', '--concurrency', '8'])).toEqual({
      url: 'ws://127.0.0.1:9000/',
      clients: 3,
      intervalMs: 1000,
      idPrefix: 'bench',
      source: '127.0.9',
      concurrency: 8,
    });
  });

  it('lets the OS pick the source address for a host that is not loopback', () => {
    expect(parseLoadArgs(['tcp://example.invalid:9000', '--clients', '1'])).toMatchObject({ source: null });
  });

  it.each([
    [[], 'URL', 'missing URL'],
    [['http://127.0.0.1:1', '--clients', '1'], 'URL', 'unsupported scheme "http"'],
    [['tcp://127.0.0.1:1'], '--clients', '--clients is required'],
    [['tcp://127.0.0.1:1', '--clients', '0'], '--clients', '--clients must be a whole number from 1 to 1000000, got "0"'],
    [['tcp://127.0.0.1:1', '--clients', '2.5'], '--clients', '--clients must be a whole number'],
    [['tcp://127.0.0.1:1', '--clients', '1', '--source', '10.0.0'], '--source', '--source must be a loopback /24 prefix'],
    [['tcp://127.0.0.1:1', '--clients', '1', '--source', '127.0.300'], '--source', '--source must be a loopback /24 prefix'],
    [['tcp://127.0.0.1:1', '--clients', '1', '--interval', '0'], '--interval', '--interval must be a whole number of milliseconds'],
    [['tcp://127.0.0.1:1', '--clients', '1', '--id-prefix='], '--id-prefix', '--id-prefix must be 1 to 200 characters'],
    [['tcp://127.0.0.1:1', '--clients', '1', '--bogus'], '--bogus', 'unknown flag --bogus'],
  ])('refuses %j naming %s', (argv, flag, message) => {
    const error = usageErrorOf(() => parseLoadArgs(argv));
    expect(error.flag).toBe(flag);
    expect(error.message).toContain(message);
  });

  it('answers help', () => {
    expect(parseLoadArgs(['-h'])).toBe('help');
  });
});

describe('descriptorLimit', () => {
  it('reads the soft limit from /proc/self/limits', () => {
    const limits = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            20000                20000                files\n';
    expect(descriptorLimit(limits)).toBe(20_000);
    expect(descriptorLimit('Max open files            unlimited            unlimited            files\n')).toBeNull();
    expect(descriptorLimit('')).toBeNull();
  });
});

describe('parseServeArgs --workers', () => {
  it('takes a worker count, and leaves the options as they were without one', () => {
    expect(parseServeArgs(['--workers', '4'])).toMatchObject({ workers: 4 });
    expect(parseServeArgs([])).not.toHaveProperty('workers');
  });

  it.each(['0', '65', 'x'])('refuses --workers %s', (raw) => {
    expect(() => parseServeArgs(['--workers', raw])).toThrow('--workers must be a whole number from 1 to 64');
  });
});

interface Ports {
  tcp: number;
  ws: number;
  http: number;
}

async function serve(...extra: string[]): Promise<{ serve: CliProcess; ports: Ports }> {
  const proc = startCli('serve', '--tcp', '0', '--ws', '0', '--http', '0', '--interval', String(INTERVAL), '--timeout', String(TIMEOUT), '--log-level', 'warn', ...extra);
  const ports = await proc.waitForJson<Ports & { event: string }>((e) => e.event === 'listening', START_MS);
  return { serve: proc, ports };
}

async function peers(ports: Ports): Promise<PeerInfo[]> {
  return JSON.parse((await httpGet(`http://127.0.0.1:${ports.http}/api/peers`)).body) as PeerInfo[];
}

describe('vigil load', () => {
  it('opens every session from spread source addresses, prints one ready line, answers heartbeats, and exits 0 on SIGTERM', async () => {
    const { ports } = await serve();
    const load = startCli('load', `tcp://127.0.0.1:${ports.tcp}`, '--clients', '40', '--interval', String(INTERVAL), '--id-prefix', 't');
    await load.waitForLine((l) => l === '{"event":"ready","clients":40}', START_MS);
    expect(load.stderr).toContain('vigil load: 40/40 up');
    // Several heartbeat rounds later every session is still alive: each one answers pings.
    await new Promise((r) => setTimeout(r, 3 * TIMEOUT));
    const live = (await peers(ports)).filter((p) => p.id.startsWith('t-'));
    expect(live.map((p) => p.id).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `t-${i}`).sort());
    expect(live.every((p) => p.state === 'alive' && p.rttMs !== null && p.transport === 'tcp')).toBe(true);
    const sources = new Set(live.map((p) => p.remote.split(':')[0]));
    expect(sources.size).toBe(40);
    expect([...sources].every((s) => /^127\.0\.0\.(\d+)$/.test(s!) && Number(s!.split('.')[3]) >= 2 && Number(s!.split('.')[3]) <= 254)).toBe(true);
    load.signal('SIGTERM');
    expect(await load.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    expect(load.lines).toEqual(['{"event":"ready","clients":40}']);
    const closed = await pollUntil(async () => {
      const all = (await peers(ports)).filter((p) => p.id.startsWith('t-'));
      return all.length === 40 && all.every((p) => p.state === 'closed') ? all : undefined;
    }, 5000);
    expect(new Set(closed.map((p) => p.cause))).toEqual(new Set(['peer-close']));
  });

  it('loads a WebSocket endpoint and exits 0 on SIGINT', async () => {
    const { ports } = await serve();
    const load = startCli('load', `ws://127.0.0.1:${ports.ws}/`, '--clients', '10', '--id-prefix', 'w');
    await load.waitForLine((l) => l === '{"event":"ready","clients":10}', START_MS);
    const live = await pollUntil(async () => {
      const all = (await peers(ports)).filter((p) => p.id.startsWith('w-') && p.state === 'alive');
      return all.length === 10 ? all : undefined;
    }, 5000);
    expect(live.every((p) => p.transport === 'ws')).toBe(true);
    load.signal('SIGINT');
    expect(await load.waitForExit(10_000)).toEqual({ code: 0, signal: null });
  });

  it('refuses more sessions than this process may hold descriptors, with exit code 2', async () => {
    const load = startCli('load', 'tcp://127.0.0.1:9', '--clients', '1000000');
    expect(await load.waitForExit(START_MS)).toEqual({ code: 2, signal: null });
    expect(load.stderr).toMatch(/vigil load: --clients 1000000 needs as many descriptors, but this process may open \d+ \(ulimit -n\)/);
  });
});

describe('vigil serve --workers', () => {
  it('holds the load in two workers behind one port, with one API for both, and exits 0 on SIGTERM', async () => {
    const { serve: primary, ports } = await serve('--workers', '2');
    const load = startCli('load', `tcp://127.0.0.1:${ports.tcp}`, '--clients', '30', '--interval', String(INTERVAL), '--id-prefix', 'k');
    await load.waitForLine((l) => l === '{"event":"ready","clients":30}', START_MS);
    const live = await pollUntil(async () => {
      const all = (await peers(ports)).filter((p) => p.state === 'alive');
      return all.length === 30 ? all : undefined;
    }, 5000);
    expect(live.map((p) => p.id).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `k-${i}`).sort());
    const workers = JSON.parse((await httpGet(`http://127.0.0.1:${ports.http}/api/workers`)).body) as WorkerStats[];
    expect(workers.map((w) => w.worker).sort()).toEqual([0, 1]);
    // Round-robin hand-off: both workers hold peers, 30 in all.
    expect(workers.every((w) => w.peers > 0)).toBe(true);
    expect(workers.reduce((a, w) => a + w.peers, 0)).toBe(30);
    const metrics = (await httpGet(`http://127.0.0.1:${ports.http}/metrics`)).body;
    expect(metrics).toContain('vigil_peers{state="alive",transport="tcp"} 30');
    expect(metrics).toMatch(/vigil_worker_peers\{worker="0"\} \d+/);
    // Each join is one `state` line on the primary's stdout, as with one process.
    // The lines travel worker → primary → stdout, so they may trail the API by a moment.
    const joined = await pollUntil(async () => {
      const lines = primary.json<{ event: string; peer?: string; to?: string }>().filter((e) => e.event === 'state' && e.to === 'alive');
      return lines.length >= 30 ? lines : undefined;
    }, 5000);
    expect(joined.map((e) => e.peer).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `k-${i}`).sort());
    load.signal('SIGKILL');
    primary.signal('SIGTERM');
    expect(await primary.waitForExit(15_000)).toEqual({ code: 0, signal: null });
  });
});
