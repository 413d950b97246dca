/**
 * `vigil serve`: argument parsing in-process, then the CLI contract end to end: real
 * `vigil serve` and `vigil connect` processes over loopback, read back through the
 * HTTP API, with a SIGSTOPped client to show death by heartbeat timeout; and two
 * `vigil serve --redis --node` processes on a real redis-server (free loopback port,
 * stopped in teardown) sharing presence, one SIGKILLed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { createServer } from 'node:net';
import type { ClusterNode, ClusterPeer } from '@vigil/cluster';
import type { PeerInfo } from '@vigil/server';
import { usageErrorOf } from '../support/usage-error.js';
import { parseServeArgs, redactUrl } from '../../src/commands/serve.js';
import { httpGet, killAllCli, pollUntil, startCli, type CliProcess } from '../support/cli-process.js';

const INTERVAL = 200;
const TIMEOUT = 800;
/** Generous bound for starting a process under tsx on a loaded machine, ms. */
const START_MS = 15_000;

afterEach(async () => {
  await killAllCli();
});

describe('parseServeArgs', () => {
  it('listens on tcp and ws on free ports when neither is given', () => {
    expect(parseServeArgs([])).toEqual({ host: '127.0.0.1', tcp: 0, ws: 0, http: null, heartbeat: {}, logLevel: 'info', token: undefined, detector: 'fixed', phi: undefined, stallGuard: true });
  });

  it('keeps exactly the listeners asked for', () => {
    expect(parseServeArgs(['--ws', '9000', '--http=0', '--interval', '200', '--timeout', '800', '--log-level', 'warn', '--host', '0.0.0.0'])).toEqual({
      host: '0.0.0.0',
      tcp: null,
      ws: 9000,
      http: 0,
      heartbeat: { intervalMs: 200, timeoutMs: 800 },
      logLevel: 'warn',
      token: undefined, detector: 'fixed', phi: undefined, stallGuard: true,
    });
  });

  it('takes the phi detector with its thresholds, a token, and turns the stall guard off', () => {
    expect(parseServeArgs(['--detector', 'phi', '--phi-suspect', '2.5', '--phi-dead', '9', '--phi-pause', '1500', '--token', 'sekrit-token', '--no-stall-guard'])).toMatchObject({
      detector: 'phi',
      phi: { suspectThreshold: 2.5, deadThreshold: 9, acceptableHeartbeatPauseMs: 1500 },
      token: 'sekrit-token',
      stallGuard: false,
    });
  });

  it('answers help', () => {
    expect(parseServeArgs(['--tcp', '0', '-h'])).toBe('help');
  });

  it.each([
    [['--timeout', '100', '--interval', '200'], '--timeout', '--timeout must be greater than --interval (200), got 100'],
    [['--timeout', '1000'], '--timeout', '--timeout must be greater than --interval (2000), got 1000'],
    [['--interval', '1000', '--timeout', '1050'], '--timeout', '--timeout is too close to --interval'],
    [['--interval', '2'], '--interval', '--interval must be at least 4 ms'],
    [['--interval', '0'], '--interval', '--interval must be a whole number of milliseconds'],
    [['--interval', '1.5'], '--interval', '--interval must be a whole number of milliseconds'],
    [['--tcp', '65536'], '--tcp', '--tcp must be a port number from 0 to 65535, got "65536"'],
    [['--ws', 'x'], '--ws', '--ws must be a port number'],
    [['--http', '--tcp', '0'], '--http', '--http needs a value'],
    [['--tcp'], '--tcp', '--tcp needs a value'],
    [['--bogus'], '--bogus', 'unknown flag --bogus'],
    [['-x'], '-x', 'unknown flag -x'],
    [['--help=yes'], '--help', '--help does not take a value'],
    [['--log-level', 'loud'], '--log-level', '--log-level must be one of'],
    [['--host', ''], '--host', '--host must not be empty'],
    [['--detector', 'gossip'], '--detector', '--detector must be fixed or phi'],
    [['--phi-dead', '9'], '--detector', '--phi-* flags need --detector phi'],
    [['--detector', 'phi', '--phi-suspect', 'x'], '--phi-suspect', '--phi-suspect must be a positive number'],
    [['--detector', 'phi', '--phi-suspect', '9', '--phi-dead', '3'], '--phi-dead', 'must be a number above suspectThreshold'],
    [['--token', 'short'], '--token', '--token must be at least 8 characters'],
  ])('refuses %j, naming %s', (argv, flag, message) => {
    const error = usageErrorOf(() => parseServeArgs(argv));
    expect(error.flag).toBe(flag);
    expect(error.message).toContain(message);
  });

  it('joins a cluster with --redis and --node, with an optional lease and namespace', () => {
    expect(parseServeArgs(['--redis', 'redis://10.0.0.5:6379', '--node', 'eu-1'])).toMatchObject({ cluster: { redisUrl: 'redis://10.0.0.5:6379', node: 'eu-1' } });
    expect(parseServeArgs(['--redis=rediss://r.example:6380', '--node=eu.2', '--lease', '2000', '--namespace', 'chat'])).toMatchObject({
      cluster: { redisUrl: 'rediss://r.example:6380', node: 'eu.2', leaseTtlMs: 2000, namespace: 'chat' },
    });
    expect(parseServeArgs([])).not.toHaveProperty('cluster');
  });

  it.each([
    [['--node', 'eu-1'], '--node', '--node needs --redis URL'],
    [['--lease', '2000'], '--lease', '--lease needs --redis URL'],
    [['--redis', 'redis://127.0.0.1:6379'], '--node', '--redis needs --node NAME'],
    [['--redis', 'http://127.0.0.1:6379', '--node', 'a'], '--redis', '--redis must be a redis:// or rediss:// URL'],
    [['--redis', 'redis://127.0.0.1:6379', '--node', 'has space'], '--node', '--node must be 1-64 characters of A-Z a-z 0-9 . _ -'],
    [['--redis', 'redis://127.0.0.1:6379', '--node', 'a', '--namespace', 'x{y}'], '--namespace', '--namespace must be 1-64 characters'],
    [['--redis', 'redis://127.0.0.1:6379', '--node', 'a', '--lease', '50'], '--lease', '--lease must be an integer of at least 100 ms'],
    [['--redis', 'redis://127.0.0.1:6379', '--node', 'a', '--workers', '2'], '--workers', '--workers cannot be combined with --redis'],
  ])('refuses cluster flags %j, naming %s', (argv, flag, message) => {
    const error = usageErrorOf(() => parseServeArgs(argv));
    expect(error.flag).toBe(flag);
    expect(error.message).toContain(message);
  });

  it('never prints a Redis password', () => {
    expect(redactUrl('redis://:s3cret@10.0.0.5:6379/0')).toBe('redis://:***@10.0.0.5:6379/0');
    expect(redactUrl('rediss://vigil:s3cret@r.example:6380')).toBe('rediss://vigil:***@r.example:6380');
    expect(redactUrl('redis://10.0.0.5:6379')).toBe('redis://10.0.0.5:6379');
  });

  it('refuses positional arguments', () => {
    expect(() => parseServeArgs(['now'])).toThrow('unexpected argument "now"');
  });
});

interface Listening {
  event: 'listening';
  tcp: number;
  ws: number;
  http: number;
}

async function startServe(...extra: string[]): Promise<{ serve: CliProcess; ports: Listening }> {
  const serve = startCli('serve', '--tcp', '0', '--ws', '0', '--http', '0', '--interval', String(INTERVAL), '--timeout', String(TIMEOUT), ...extra);
  const ports = await serve.waitForJson<Listening>((v) => v.event === 'listening', START_MS);
  return { serve, ports };
}

async function peers(ports: Listening): Promise<PeerInfo[]> {
  const res = await httpGet(`http://127.0.0.1:${ports.http}/api/peers`);
  expect(res.status).toBe(200);
  return JSON.parse(res.body) as PeerInfo[];
}

/** A server and two `vigil connect` clients (tcp `t1`, ws `w1`), both alive with an RTT on the server. */
async function startCluster(): Promise<{ serve: CliProcess; ports: Listening; tcp: CliProcess; ws: CliProcess; alive: PeerInfo[] }> {
  const { serve, ports } = await startServe();
  const tcp = startCli('connect', `tcp://127.0.0.1:${ports.tcp}`, '--id', 't1');
  const ws = startCli('connect', `ws://127.0.0.1:${ports.ws}/`, '--id', 'w1');
  // A couple of intervals after both handshakes, each has pongs behind its RTT.
  const alive = await pollUntil(async () => {
    const list = await peers(ports);
    const ok = ['t1', 'w1'].every((id) => list.some((p) => p.id === id && p.state === 'alive' && p.rttMs !== null));
    return ok ? list : undefined;
  }, START_MS);
  return { serve, ports, tcp, ws, alive };
}

describe('vigil serve (end to end)', () => {
  it('prints exactly one listening line first, with the three bound ports', async () => {
    const { serve, ports } = await startServe();
    expect(Object.keys(ports)).toEqual(['event', 'tcp', 'ws', 'http']);
    for (const port of [ports.tcp, ports.ws, ports.http]) {
      expect(Number.isInteger(port)).toBe(true);
      expect(port).toBeGreaterThan(0);
    }
    expect(new Set([ports.tcp, ports.ws, ports.http]).size).toBe(3);
    expect(JSON.parse(serve.lines[0] ?? '')).toEqual(ports);
  });

  it('listens on tcp and ws only when no listener is named', async () => {
    const serve = startCli('serve', '--log-level', 'silent');
    const listening = await serve.waitForJson((v) => v['event'] === 'listening', START_MS);
    expect(Object.keys(listening)).toEqual(['event', 'tcp', 'ws']);
  });

  it('lists a tcp and a ws client as alive on /api/peers, and counts them on /metrics', async () => {
    const { serve, ports, alive } = await startCluster();
    expect(alive).toHaveLength(2);
    const byId = new Map(alive.map((p) => [p.id, p]));
    for (const [id, transport] of [
      ['t1', 'tcp'],
      ['w1', 'ws'],
    ] as const) {
      const p = byId.get(id);
      expect(p).toMatchObject({ id, transport, state: 'alive', cause: null, intervalMs: INTERVAL, timeoutMs: TIMEOUT, reconnects: 0 });
      expect(p?.remote).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(typeof p?.rttMs).toBe('number');
      expect(typeof p?.lastSeenMs).toBe('number');
    }

    const metrics = await httpGet(`http://127.0.0.1:${ports.http}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('vigil_peers{state="alive",transport="tcp"} 1');
    expect(metrics.body).toContain('vigil_peers{state="alive",transport="ws"} 1');
    expect(metrics.body).toContain('# TYPE vigil_peer_deaths_total counter');

    // Stdout stays JSON lines: the listening line, then one state line per change.
    const events = serve.json();
    expect(events[0]).toEqual(ports);
    expect(events.slice(1)).toEqual(
      expect.arrayContaining([
        { event: 'state', peer: 't1', transport: 'tcp', from: 'connecting', to: 'alive', cause: null, silenceMs: expect.any(Number) },
        { event: 'state', peer: 'w1', transport: 'ws', from: 'connecting', to: 'alive', cause: null, silenceMs: expect.any(Number) },
      ]),
    );
  });

  it('declares a frozen (SIGSTOPped) client dead by heartbeat timeout within timeout + 1 s, and keeps listing it', async () => {
    const { serve, ports, tcp } = await startCluster();
    const stoppedAt = Date.now();
    tcp.signal('SIGSTOP');
    const dead = await pollUntil(async () => (await peers(ports)).find((p) => p.id === 't1' && p.state === 'dead'), TIMEOUT + 1000);
    expect(Date.now() - stoppedAt).toBeLessThan(TIMEOUT + 1000);
    expect(dead).toMatchObject({ id: 't1', transport: 'tcp', state: 'dead', cause: 'heartbeat-timeout' });
    expect(dead.lastSeenMs).toBeGreaterThanOrEqual(TIMEOUT);

    const list = await peers(ports);
    expect(list.find((p) => p.id === 'w1')).toMatchObject({ state: 'alive', cause: null });
    await serve.waitForJson((v) => v['peer'] === 't1' && v['to'] === 'dead' && v['cause'] === 'heartbeat-timeout', 1000);
    const metrics = await httpGet(`http://127.0.0.1:${ports.http}/metrics`);
    expect(metrics.body).toContain('vigil_peer_deaths_total{cause="heartbeat-timeout"} 1');
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('closes its clients in order and exits 0 on %s', async (signal) => {
    const { serve, tcp, ws } = await startCluster();
    serve.signal(signal);
    expect(await serve.waitForExit(5000)).toEqual({ code: 0, signal: null });
    // The clients were told (close 1001) rather than timed out, and are reconnecting.
    for (const client of [tcp, ws]) {
      await client.waitForJson((v) => v['state'] === 'closed' && v['cause'] === 'peer-close', 2000);
      expect(client.hasExited).toBe(false);
    }
  });

  it('exits 1 with a one-line error when a port is taken', async () => {
    const { ports } = await startServe();
    const second = startCli('serve', '--tcp', String(ports.tcp));
    expect(await second.waitForExit(START_MS)).toEqual({ code: 1, signal: null });
    expect(second.lines).toEqual([]);
    expect(second.stderr).toBe(`vigil serve: cannot listen on 127.0.0.1:${ports.tcp}: address already in use\n`);
  });

  it.each([
    [['--timeout', '100', '--interval', '200'], '--timeout'],
    [['--tcp', 'abc'], '--tcp'],
    [['--frobnicate'], '--frobnicate'],
  ])('exits 2 on %j with one line on stderr naming %s', async (argv, flag) => {
    const serve = startCli('serve', ...argv);
    expect(await serve.waitForExit(START_MS)).toEqual({ code: 2, signal: null });
    expect(serve.lines).toEqual([]);
    const lines = serve.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^vigil serve: /);
    expect(lines[0]).toContain(flag);
  });

  it('prints its help on stdout and exits 0', async () => {
    const serve = startCli('serve', '--help');
    expect(await serve.waitForExit(START_MS)).toEqual({ code: 0, signal: null });
    expect(serve.lines[0]).toBe('Usage: vigil serve [options]');
    expect(serve.lines.join('\n')).toContain('--timeout MS');
  });
});

/** A throwaway redis-server on a free loopback port, without persistence. */
async function startRedis(): Promise<{ url: string; port: number; stop: () => Promise<void> }> {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new Error('the clustered serve test needs redis-server on PATH: apt-get install -y redis-server');
  }
  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer().once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('redis-server not ready in 10 s')), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${String(code)})`));
    });
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { url: `redis://127.0.0.1:${port}`, port, stop };
}

/** The first `full` message of the dashboard stream at `url`. */
function firstFull(url: string): Promise<{ cluster: { node: string } | null; peers: { id: string; nd?: string }[] }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        const m = /event: full\ndata: (.*)\n\n/.exec(text);
        if (m === null) return;
        req.destroy();
        resolve(JSON.parse(m[1]!) as { cluster: { node: string } | null; peers: { id: string; nd?: string }[] });
      });
    });
    req.on('error', reject);
  });
}

describe('vigil serve --redis --node (a real Redis, two nodes)', () => {
  const LEASE_MS = 1000;
  let redis: Awaited<ReturnType<typeof startRedis>> | null = null;

  afterEach(async () => {
    await killAllCli();
    await redis?.stop();
    redis = null;
  });

  async function startNode(name: string): Promise<{ serve: CliProcess; ports: Listening & { node: string } }> {
    const serve = startCli('serve', '--tcp', '0', '--http', '0', '--interval', String(INTERVAL), '--timeout', String(TIMEOUT), '--redis', redis!.url, '--node', name, '--lease', String(LEASE_MS), '--log-level', 'warn');
    const ports = await serve.waitForJson<Listening & { node: string }>((v) => v.event === 'listening', START_MS);
    return { serve, ports };
  }

  async function clusterGet<T>(ports: Listening, path: string): Promise<T> {
    const res = await httpGet(`http://127.0.0.1:${ports.http}${path}`);
    expect(res.status).toBe(200);
    return JSON.parse(res.body) as T;
  }

  it('shares presence across nodes, lists nodes with lease ages, shows them on the dashboard, and declares a killed node lost', async () => {
    redis = await startRedis();
    const [n1, n2] = await Promise.all([startNode('n1'), startNode('n2')]);
    expect(n1.ports).toMatchObject({ event: 'listening', node: 'n1' });
    expect(Object.keys(n2.ports)).toEqual(['event', 'tcp', 'http', 'node']);
    startCli('connect', `tcp://127.0.0.1:${n1.ports.tcp}`, '--id', 't1');

    // n2 sees n1's peer, from Redis and from its replica, with the node column.
    const seen = await pollUntil(async () => {
      const peers = await clusterGet<ClusterPeer[]>(n2.ports, '/api/cluster/peers');
      return peers.length === 1 ? peers : undefined;
    }, START_MS);
    expect(seen[0]).toMatchObject({ id: 't1', node: 'n1', state: 'alive', transport: 'tcp' });
    expect((await clusterGet<ClusterPeer[]>(n2.ports, '/api/cluster/view')).map((p) => [p.id, p.node])).toEqual([['t1', 'n1']]);
    const nodes = await clusterGet<ClusterNode[]>(n2.ports, '/api/cluster/nodes');
    expect(nodes.map((n) => [n.node, n.state, n.peers, n.leaseTtlMs])).toEqual([
      ['n1', 'live', 1, LEASE_MS],
      ['n2', 'live', 0, LEASE_MS],
    ]);
    for (const n of nodes) expect(n.leaseAgeMs).toBeLessThan(LEASE_MS);
    // Its own /api/peers stays this server's only.
    expect(await peers(n2.ports)).toEqual([]);
    const dashboard = await firstFull(`http://127.0.0.1:${n2.ports.http}/api/stream`);
    expect(dashboard.cluster?.node).toBe('n2');
    expect(dashboard.peers.map((p) => [p.id, p.nd])).toEqual([['t1', 'n1']]);
    await n2.serve.waitForJson((v) => v['event'] === 'cluster' && v['type'] === 'joined' && (v['peer'] as ClusterPeer).id === 't1', 2000);

    // SIGKILL n1: n2 declares it lost within the lease TTL plus one renewal (a fifth) plus 1 s.
    const from = n2.serve.lines.length;
    const killedAt = Date.now();
    n1.serve.signal('SIGKILL');
    const lost = await n2.serve.waitForJson((v) => v['event'] === 'cluster' && v['type'] === 'dead' && v['peerId'] === 't1', LEASE_MS + LEASE_MS / 5 + 1000, from);
    expect(Date.now() - killedAt).toBeLessThanOrEqual(LEASE_MS + LEASE_MS / 5 + 1000);
    expect(lost).toMatchObject({ node: 'n1', cause: 'node-lost', by: 'n2' });
    expect(n2.serve.json().filter((v) => v['event'] === 'cluster' && v['type'] === 'node-lost')).toEqual([expect.objectContaining({ node: 'n1', by: 'n2', peers: 1 })]);
    await pollUntil(async () => ((await clusterGet<ClusterPeer[]>(n2.ports, '/api/cluster/peers')).length === 0 ? true : undefined), 2000);

    // An orderly stop leaves the cluster: exit 0, nothing of n2 left in Redis.
    n2.serve.signal('SIGTERM');
    expect(await n2.serve.waitForExit(5000)).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('exits 1 with a one-line error when Redis does not answer', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
      });
    });
    const serve = startCli('serve', '--tcp', '0', '--redis', `redis://127.0.0.1:${closedPort}`, '--node', 'lonely', '--lease', '1000', '--log-level', 'silent');
    expect(await serve.waitForExit(START_MS)).toEqual({ code: 1, signal: null });
    expect(serve.lines).toEqual([]);
    const lines = serve.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^vigil serve: cannot join the cluster as "lonely" through redis:\/\/127\.0\.0\.1:\d+: could not join the cluster through Redis within 5000 ms \(redis-unreachable\)$/);
  }, 30_000);
});
