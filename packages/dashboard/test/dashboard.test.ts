/**
 * The dashboard over real loopback HTTP, without a browser: routes and headers, the
 * stream's full-then-delta contract, batching, the token guard, mounting under a
 * base path, and the kernel view on Linux. Every server and client is torn down.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { VigilClient } from '@vigil/client';
import { VigilServer } from '@vigil/server';
import { createDashboardHandler, serveDashboard, type DashboardServer } from '../src/index.js';
import type { EncodedPeer, PeerPatch } from '../src/internal/stream-encoder.js';
import type { DeltaMessage, FullMessage } from '../src/internal/live-feed.js';
import { FakeCluster, clusterNode, clusterPeer } from './fixtures/fake-cluster.js';
import { openSse, type SseStream } from './sse.js';

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const full = (e: { data: unknown }): FullMessage => e.data as FullMessage;
const delta = (e: { data: unknown }): DeltaMessage => e.data as DeltaMessage;

describe('dashboard over HTTP', () => {
  let vigil: VigilServer;
  let ports: { tcp?: number; ws?: number };
  let dash: DashboardServer;
  const clients: VigilClient[] = [];
  const streams: SseStream[] = [];
  let base: string;

  beforeEach(async () => {
    vigil = new VigilServer({ tcp: { port: 0 }, ws: { port: 0 }, heartbeat: { intervalMs: 100, timeoutMs: 400 } });
    ports = await vigil.listen();
    dash = await serveDashboard(vigil, { port: 0, kernelIntervalMs: 100 });
    base = `http://127.0.0.1:${dash.port}`;
  });

  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await dash.close();
    await vigil.close();
  });

  async function connect(id: string, transport: 'tcp' | 'ws' = 'tcp'): Promise<VigilClient> {
    const url = transport === 'tcp' ? `tcp://127.0.0.1:${ports.tcp}` : `ws://127.0.0.1:${ports.ws}`;
    const c = new VigilClient(url, { id, reconnect: false });
    clients.push(c);
    await c.connect();
    return c;
  }

  async function stream(url = `${base}/api/stream`, headers: Record<string, string> = {}): Promise<SseStream> {
    const s = await openSse(url, headers);
    streams.push(s);
    return s;
  }

  it('binds 127.0.0.1 and prints the page address', () => {
    expect((dash.server.address() as AddressInfo).address).toBe('127.0.0.1');
    expect(dash.url).toBe(`http://127.0.0.1:${dash.port}/`);
  });

  it('serves the page with a strict content security policy, and its assets', async () => {
    const page = await get(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.body).toContain('<script type="module" src="assets/app.js"></script>');
    const js = await get(`${base}/assets/app.js`);
    expect([js.status, js.headers['content-type']]).toEqual([200, 'text/javascript; charset=utf-8']);
    const css = await get(`${base}/assets/style.css`);
    expect([css.status, css.headers['content-type']]).toEqual([200, 'text/css; charset=utf-8']);
  });

  it('serves nothing outside its public folder', async () => {
    for (const path of ['/assets/../package.json', '/assets/%2e%2e%2fpackage.json', '/assets/', '/assets/nope.js', '/src/index.ts']) {
      expect([path, (await get(`${base}${path}`)).status]).toEqual([path, 404]);
    }
    expect((await get(`${base}/`, {}, 'POST')).status).toBe(405);
  });

  it('keeps the HTTP API beside the page', async () => {
    await connect('api-1');
    const peers = JSON.parse((await get(`${base}/api/peers`)).body) as { id: string }[];
    expect(peers.map((p) => p.id)).toEqual(['api-1']);
    expect((await get(`${base}/metrics`)).body).toContain('vigil_event_loop_lag_seconds');
  });

  it('sends the full state first, then batched deltas of only what changed', async () => {
    await connect('tcp-1');
    await connect('ws-1', 'ws');
    const s = await stream();
    expect(s.status).toBe(200);
    expect(s.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const first = full(s.events[0] ?? (await s.next(() => true)));
    expect(s.events[0]?.event).toBe('full');
    expect(first.peers.map((p) => [p.id, p.tr, p.st]).sort()).toEqual([
      ['tcp-1', 'tcp', 'alive'],
      ['ws-1', 'ws', 'alive'],
    ]);
    expect(first.config).toEqual({ intervalMs: 100, suspectAfterMs: 150, timeoutMs: 400 });
    expect(first.rttHistory).toBe(16);

    // Two peers ping every 100 ms (20 heartbeats a second); the stream carries at most 4 messages a second.
    const late = await connect('tcp-2');
    await s.next((e) => e.event === 'delta' && delta(e).up.some((p) => p.id === 'tcp-2'));
    const joined = await s.next((e) => e.event === 'delta' && delta(e).ev.some((ev) => ev.id === 'tcp-2'));
    expect(delta(joined).ev.find((ev) => ev.id === 'tcp-2')?.kind).toBe('joined');
    const from = s.events.length;
    await s.next(() => true, 5000, from + 6);
    const deltas = s.events.slice(from, from + 6).map(delta);
    expect(s.events.slice(from, from + 6).map((e) => e.event)).toEqual(Array(6).fill('delta'));
    for (let i = 1; i < deltas.length; i++) expect(deltas[i]!.now - deltas[i - 1]!.now).toBeGreaterThanOrEqual(240);
    // Batched: one message carries the heartbeats of several peers, each as a patch of changed fields only.
    expect(deltas.some((d) => d.up.length === 3)).toBe(true);
    for (const patch of deltas.flatMap((d) => d.up)) expect(Object.keys(patch).every((k) => ['k', 'lsa', 'rtt', 'rv', 'sa', 'smp', 'kn'].includes(k))).toBe(true);

    await late.close();
    const closed = await s.next((e) => e.event === 'delta' && delta(e).ev.some((ev) => ev.id === 'tcp-2' && ev.kind === 'closed'));
    expect(delta(closed).ev.find((ev) => ev.id === 'tcp-2')?.ca).toBe('peer-close');
  });

  it('compresses the stream for a page that accepts gzip, flushing every message', async () => {
    await connect('gz-1');
    const s = await stream(`${base}/api/stream`, { 'accept-encoding': 'gzip, deflate' });
    expect(s.headers['content-encoding']).toBe('gzip');
    expect(full(await s.next((e) => e.event === 'full')).peers.map((p) => p.id)).toEqual(['gz-1']);
    await s.next((e) => e.event === 'delta' && delta(e).up.length > 0);
  });

  it('resends the full state, with the same keys, to a page that reconnects', async () => {
    await connect('a');
    await connect('b', 'ws');
    const one = await stream();
    const firstKeys = full(await one.next((e) => e.event === 'full')).peers.map((p) => [p.k, p.id]);
    await one.next((e) => e.event === 'delta');
    one.close();
    await one.ended;
    const two = await stream();
    const again = full(await two.next((e) => e.event === 'full'));
    expect(again.peers.map((p) => [p.k, p.id])).toEqual(firstKeys);
    expect(again.events.map((e) => [e.id, e.kind])).toEqual([
      ['a', 'joined'],
      ['b', 'joined'],
    ]);
  });

  it('shows the kernel view of each socket on Linux', async () => {
    if (process.platform !== 'linux') return;
    await connect('k-tcp');
    await connect('k-ws', 'ws');
    const s = await stream();
    const model = new Map<number, Partial<EncodedPeer>>();
    const seen = await s.next((e) => {
      const patches: readonly PeerPatch[] = e.event === 'full' ? full(e).peers : delta(e).up;
      for (const p of patches) model.set(p.k, { ...model.get(p.k), ...p });
      return [...model.values()].filter((p) => p.kn?.st === 'ESTABLISHED').length === 2;
    });
    expect(seen.event).toBe('delta');
    for (const p of model.values()) {
      // The clients run in this process on loopback: their own sockets are visible too.
      expect(p.kn).toEqual(expect.objectContaining({ st: 'ESTABLISHED', rtx: 0, frozen: false, ps: expect.objectContaining({ st: 'ESTABLISHED' }) }));
    }
  });

  it('ends its streams when closed', async () => {
    const s = await stream();
    await s.next((e) => e.event === 'full');
    expect(dash.dashboard.streams()).toBe(1);
    dash.dashboard.close();
    await s.ended;
    expect(dash.dashboard.streams()).toBe(0);
    expect((await get(`${base}/api/stream`)).status).toBe(503);
  });
});

describe('dashboard token guard', () => {
  let vigil: VigilServer;
  let dash: DashboardServer;
  let base: string;
  const auth = { authorization: 'Bearer s3cret-token' };

  beforeAll(async () => {
    vigil = new VigilServer({ tcp: { port: 0 } });
    await vigil.listen();
    dash = await serveDashboard(vigil, { port: 0, token: 's3cret-token' });
    base = `http://127.0.0.1:${dash.port}`;
  });

  afterAll(async () => {
    await dash.close();
    await vigil.close();
  });

  it('puts the token in the printed address', () => {
    expect(dash.url).toBe(`http://127.0.0.1:${dash.port}/?token=s3cret-token`);
  });

  it.each(['/', '/api/stream', '/api/peers', '/api/events', '/metrics'])('answers %s with 401 and no data without the token, or with a wrong one', async (path) => {
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 's3cret-token' }]) {
      const r = await get(`${base}${path}`, headers);
      expect([r.status, r.headers['www-authenticate'], r.body]).toEqual([401, 'Bearer', 'unauthorized\n']);
    }
    expect((await get(`${base}${path}?token=wrong`)).status).toBe(401);
  });

  it.each(['/', '/api/peers', '/api/events', '/metrics'])('answers %s with the bearer token', async (path) => {
    expect((await get(`${base}${path}`, auth)).status).toBe(200);
  });

  it('takes the token from the query for the page and the stream (a browser only has the URL)', async () => {
    expect((await get(`${base}/?token=s3cret-token`)).status).toBe(200);
    const s = await openSse(`${base}/api/stream?token=s3cret-token`);
    try {
      expect(s.status).toBe(200);
      expect((await s.next((e) => e.event === 'full')).event).toBe('full');
    } finally {
      s.close();
    }
  });

  it('serves the static assets without it: they are the same files for everyone and carry no data', async () => {
    expect((await get(`${base}/assets/app.js`)).status).toBe(200);
  });
});

describe('createDashboardHandler on an application server', () => {
  let vigil: VigilServer;
  let http: Server;
  let base: string;
  let handler: ReturnType<typeof createDashboardHandler>;

  beforeAll(async () => {
    vigil = new VigilServer({ tcp: { port: 0 } });
    await vigil.listen();
    handler = createDashboardHandler(vigil, { basePath: '/vigil/' });
    http = createServer((req, res) => {
      void handler(req, res).then((handled) => {
        if (!handled) res.writeHead(404).end('app 404');
      });
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    handler.close();
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
    await vigil.close();
  });

  it('mounts under a base path and leaves other paths to the application', async () => {
    const redirect = await get(`${base}/vigil?x=1`);
    expect([redirect.status, redirect.headers.location]).toEqual([308, '/vigil/?x=1']);
    expect((await get(`${base}/vigil/`)).status).toBe(200);
    expect((await get(`${base}/vigil/assets/table.js`)).status).toBe(200);
    expect((await get(`${base}/`)).body).toBe('app 404');
    expect((await get(`${base}/vigilant`)).body).toBe('app 404');
    const s = await openSse(`${base}/vigil/api/stream`);
    try {
      expect((await s.next((e) => e.event === 'full')).event).toBe('full');
    } finally {
      s.close();
    }
  });
});

describe('dashboard of a cluster node', () => {
  let vigil: VigilServer;
  let dash: DashboardServer;
  let cluster: FakeCluster;
  const clients: VigilClient[] = [];
  const streams: SseStream[] = [];

  beforeEach(async () => {
    vigil = new VigilServer({ tcp: { port: 0 }, heartbeat: { intervalMs: 100, timeoutMs: 400 } });
    const { tcp } = await vigil.listen();
    cluster = new FakeCluster('node-a');
    dash = await serveDashboard(vigil, { port: 0, kernelIntervalMs: 0, cluster });
    const c = new VigilClient(`tcp://127.0.0.1:${tcp!}`, { id: 'local-1', reconnect: false });
    clients.push(c);
    await c.connect();
  });

  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await dash.close();
    await vigil.close();
  });

  async function stream(): Promise<SseStream> {
    const s = await openSse(`http://127.0.0.1:${dash.port}/api/stream`);
    streams.push(s);
    return s;
  }

  it('streams every node\'s peers with their node, its own from the server only, and the node list with lease ages', async () => {
    // The replica lists this node's own peer too: the server's richer record wins, once.
    cluster.peers = [clusterPeer('local-1', 'node-a'), clusterPeer('remote-1', 'node-b'), clusterPeer('remote-2', 'node-c', { state: 'suspect', cause: 'heartbeat-timeout' })];
    cluster.nodeList = [clusterNode('node-a', 1), clusterNode('node-b', 1, { leaseAgeMs: 900 }), clusterNode('node-c', 1)];
    const s = await stream();
    const first = full(await s.next((e) => e.event === 'full'));
    // local-1 comes from the server (tcp), not from the replica's record (ws).
    expect(first.peers.map((p) => [p.id, p.nd, p.tr, p.st, p.ca]).sort()).toEqual([
      ['local-1', 'node-a', 'tcp', 'alive', null],
      ['remote-1', 'node-b', 'ws', 'alive', null],
      ['remote-2', 'node-c', 'ws', 'suspect', 'heartbeat-timeout'],
    ]);
    expect(first.peers.find((p) => p.id === 'remote-1')).toMatchObject({ rtt: 12.5, rem: '198.51.100.7:40000', smp: [], kn: null });
    expect(first.cluster).toMatchObject({ node: 'node-a', status: { state: 'active', reason: null }, error: null });
    const withNodes = delta(await s.next((e) => e.event === 'delta' && (delta(e).cluster?.nodes.length ?? 0) > 0));
    expect(withNodes.cluster!.nodes.map((n) => [n.node, n.state, n.leaseAgeMs, n.leaseTtlMs, n.peers])).toEqual([
      ['node-a', 'live', 400, 5000, 1],
      ['node-b', 'live', 900, 5000, 1],
      ['node-c', 'live', 400, 5000, 1],
    ]);

    // Another node's peers are quiet between changes: no patch per tick for them.
    const remoteKeys = new Set(first.peers.filter((p) => p.nd !== 'node-a').map((p) => p.k));
    const from = s.events.length;
    await s.next(() => true, 5000, from + 4);
    const patched = s.events.slice(from).filter((e) => e.event === 'delta').flatMap((e) => delta(e).up.map((p) => p.k));
    expect(patched.filter((k) => remoteKeys.has(k))).toEqual([]);

    // node-c is lost: its peer leaves the replica, its record shows lost.
    cluster.peers = cluster.peers.filter((p) => p.node !== 'node-c');
    cluster.nodeList = [clusterNode('node-a', 1), clusterNode('node-b', 1), clusterNode('node-c', 1, { state: 'lost', leaseLeftMs: 0, leaseAgeMs: 5000 })];
    const removed = first.peers.find((p) => p.id === 'remote-2')!.k;
    await s.next((e) => e.event === 'delta' && delta(e).rm.includes(removed));
    await s.next((e) => e.event === 'delta' && delta(e).cluster?.nodes.find((n) => n.node === 'node-c')?.state === 'lost');

    // The store unreachable: the last node list stays, with the reason.
    cluster.failNodes = 'cluster store unreachable';
    cluster.status = { state: 'degraded', reason: 'redis-unreachable' };
    const failed = delta(await s.next((e) => e.event === 'delta' && delta(e).cluster?.error === 'cluster store unreachable'));
    expect(failed.cluster).toMatchObject({ status: { state: 'degraded', reason: 'redis-unreachable' } });
    expect(failed.cluster!.nodes).toHaveLength(3);
  });

  it('a standalone dashboard streams no cluster part and no node field', async () => {
    const plain = await serveDashboard(vigil, { port: 0, kernelIntervalMs: 0 });
    try {
      const s = await openSse(`http://127.0.0.1:${plain.port}/api/stream`);
      streams.push(s);
      const first = full(await s.next((e) => e.event === 'full'));
      expect(first.cluster).toBeNull();
      expect(first.peers.map((p) => [p.id, 'nd' in p])).toEqual([['local-1', false]]);
    } finally {
      await plain.close();
    }
  });
});
