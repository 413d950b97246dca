/**
 * The page in a real browser (playwright-core driving Debian's chromium; no browser
 * download) against a real VigilServer with real clients over TCP and WebSocket:
 * peers appear; a client in a child process frozen with SIGSTOP turns suspect, then
 * dead with its cause, within timeout + 1 s, while the kernel still calls its socket
 * ESTABLISHED; the stream survives a restart of the HTTP server without a reload; the
 * token guard holds. On a cluster node (a cluster source standing in for
 * `@vigil/cluster`): a Node column, other nodes' peers, and the node list with lease
 * ages, a lost node, and a degraded store. Saves test-output/dashboard.png and
 * test-output/dashboard-cluster.png. Everything is torn down.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { VigilClient } from '@vigil/client';
import { VigilServer } from '@vigil/server';
import { chromium, type Browser, type Page } from 'playwright-core';
import { serveDashboard, type DashboardServer } from '../src/index.js';
import { FakeCluster, clusterNode, clusterPeer } from './fixtures/fake-cluster.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];
const REPO = join(__dirname, '../../..');
const INTERVAL_MS = 200;
const TIMEOUT_MS = 800;

/** Starts test/fixtures/child-client.ts in its own process; resolves once it has joined. */
function spawnClient(url: string, id: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures/child-client.ts'), url, id], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`child client ${id} not ready in 15 s: ${stderr}`)), 15_000);
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout!.once('data', () => {
      clearTimeout(timer);
      resolve(child);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child client ${id} exited with ${String(code)}: ${stderr}`));
    });
  });
}

function row(id: string): string {
  return `.row[data-id="${id}"]`;
}

describe('dashboard in a browser', () => {
  let vigil: VigilServer;
  let ports: { tcp?: number; ws?: number };
  let dash: DashboardServer | null = null;
  let guarded: DashboardServer | null = null;
  let browser: Browser | null = null;
  let page: Page;
  const clients: VigilClient[] = [];
  const children: ChildProcess[] = [];
  const options = { kernelIntervalMs: 200 };

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
    vigil = new VigilServer({ tcp: { port: 0 }, ws: { port: 0 }, heartbeat: { intervalMs: INTERVAL_MS, timeoutMs: TIMEOUT_MS } });
    ports = await vigil.listen();
    dash = await serveDashboard(vigil, { port: 0, ...options });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  }, 30_000);

  afterAll(async () => {
    for (const child of children) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    await browser?.close();
    await Promise.all(clients.map((c) => c.close()));
    await guarded?.close();
    await dash?.close();
    await vigil?.close();
  });

  async function connect(id: string, transport: 'tcp' | 'ws'): Promise<void> {
    const c = new VigilClient(transport === 'tcp' ? `tcp://127.0.0.1:${ports.tcp}` : `ws://127.0.0.1:${ports.ws}`, { id });
    clients.push(c);
    await c.connect();
  }

  it('shows peers over both transports as they join', async () => {
    await connect('tcp-alpha', 'tcp');
    await connect('ws-alpha', 'ws');
    await page.goto(dash!.url);
    await page.waitForSelector('body[data-stream="live"]', { timeout: 5000 });
    await connect('tcp-beta', 'tcp');
    await connect('ws-beta', 'ws');
    for (const [id, via] of [
      ['tcp-alpha', 'tcp'],
      ['ws-alpha', 'ws'],
      ['tcp-beta', 'tcp'],
      ['ws-beta', 'ws'],
    ] as const) {
      await page.waitForSelector(`${row(id)}[data-state="alive"]`, { timeout: 3000 });
      expect(await page.textContent(`${row(id)} .c-transport`)).toBe(via);
    }
    await page.waitForFunction(() => document.getElementById('peers-live')?.textContent === '4', undefined, { timeout: 3000 });
    // Not a cluster node: no node list, no Node column.
    expect(await page.isHidden('#nodes')).toBe(true);
    expect(await page.isHidden('.th.c-node')).toBe(true);
  });

  it('shows a frozen peer turn suspect, then dead with its cause, within timeout + 1 s', async () => {
    const frozen = await spawnClient(`tcp://127.0.0.1:${ports.tcp}`, 'frozen-1');
    children.push(frozen);
    await page.waitForSelector(`${row('frozen-1')}[data-state="alive"]`, { timeout: 3000 });
    // Record every state the page shows for the peer, whichever pooled row element draws it.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { frozenStates: string[] }).frozenStates = seen;
      const record = (): void => {
        const state = document.querySelector<HTMLElement>('.row[data-id="frozen-1"]')?.dataset['state'];
        if (state !== undefined && seen.at(-1) !== state) seen.push(state);
      };
      record();
      new MutationObserver(record).observe(document.getElementById('tbody')!, { subtree: true, attributes: true, attributeFilter: ['data-state', 'data-id'] });
    });

    const stalledBefore = vigil.health().stallMsTotal;
    frozen.kill('SIGSTOP');
    const stoppedAt = performance.now();
    await page.waitForSelector(`${row('frozen-1')}[data-state="dead"]`, { timeout: TIMEOUT_MS + 10_000 });
    const noticedAfter = performance.now() - stoppedAt;
    // Within timeout + 1 s, plus whatever stall of our own process the server excused meanwhile.
    expect(noticedAfter).toBeLessThanOrEqual(TIMEOUT_MS + 1000 + (vigil.health().stallMsTotal - stalledBefore));

    expect(await page.evaluate(() => (window as unknown as { frozenStates: string[] }).frozenStates)).toEqual(['alive', 'suspect', 'dead']);
    expect(await page.textContent(`${row('frozen-1')} .c-cause`)).toBe('heartbeat timeout');
    const events = await page.$$eval('#timeline .ev[data-id="frozen-1"] .kind', (els) => els.map((e) => e.textContent));
    expect(events).toEqual(['dead', 'suspect', 'joined']);
    await page.waitForFunction(() => document.getElementById('deaths-total')?.textContent === '1', undefined, { timeout: 2000 });
    expect(await page.textContent('#deaths-causes .name')).toBe('heartbeat timeout');
    // The other peers never missed a beat.
    for (const id of ['tcp-alpha', 'ws-alpha', 'tcp-beta', 'ws-beta']) expect(await page.getAttribute(row(id), 'data-state')).toBe('alive');

    if (process.platform === 'linux') {
      // Vigil says dead; the kernel, which keeps acknowledging for the stopped process, says ESTABLISHED.
      expect(await page.textContent(`${row('frozen-1')} .kst`)).toBe('ESTABLISHED');
      expect(await page.getAttribute(`${row('frozen-1')} .kst`, 'class')).toContain('mismatch');
    }
    await page.click(row('frozen-1'));
    await page.waitForSelector('#detail .view.app dd.s-dead', { timeout: 2000 });
    mkdirSync(join(REPO, 'test-output'), { recursive: true });
    await page.screenshot({ path: join(REPO, 'test-output/dashboard.png') });
  }, 20_000);

  it('pauses and resumes the timeline', async () => {
    await page.click('#pause');
    const shown = await page.locator('#timeline .ev').count();
    await connect('while-paused', 'ws');
    await page.waitForSelector('#pending:not([hidden])', { timeout: 3000 });
    // On a loaded box another peer may slip (suspect, recovered) meanwhile: count at least ours.
    expect(await page.textContent('#pending')).toMatch(/^[1-9]\d* new$/);
    expect(await page.locator('#timeline .ev').count()).toBe(shown);
    await page.click('#pause');
    expect(await page.$$eval('#timeline .ev[data-id="while-paused"] .kind', (els) => els.map((e) => e.textContent))).toEqual(['joined']);
    expect(await page.isHidden('#pending')).toBe(true);
  });

  it('filters and sorts the table', async () => {
    await page.fill('#filter', 'ws-');
    await page.waitForFunction(() => document.querySelectorAll('.row:not([hidden])').length === 2, undefined, { timeout: 3000 });
    expect(await page.$$eval('.row:not([hidden])', (rows) => rows.map((r) => (r as HTMLElement).dataset['id']).sort())).toEqual(['ws-alpha', 'ws-beta']);
    await page.fill('#filter', '');
    await page.click('.th[data-sort="id"]');
    await page.waitForSelector('.th[data-sort="id"][aria-sort="ascending"]', { timeout: 2000 });
    const ids = await page.$$eval('.row:not([hidden])', (rows) =>
      rows.sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top).map((r) => (r as HTMLElement).dataset['id'] ?? ''),
    );
    expect(ids).toEqual([...ids].sort());
    await page.click('.th[data-sort="state"]');
  });

  it('keeps streaming across a restart of the HTTP server, without a reload', async () => {
    const port = dash!.port;
    await page.evaluate(() => ((window as unknown as { samePage: boolean }).samePage = true));
    await dash!.close();
    dash = null;
    await page.waitForSelector('body[data-stream="reconnecting"]', { timeout: 5000 });
    dash = await serveDashboard(vigil, { port, ...options });
    await connect('after-restart', 'tcp');
    await page.waitForSelector('body[data-stream="live"]', { timeout: 10_000 });
    await page.waitForSelector(`${row('after-restart')}[data-state="alive"]`, { timeout: 5000 });
    expect(await page.evaluate(() => (window as unknown as { samePage?: boolean }).samePage)).toBe(true);
    expect(await page.getAttribute(row('frozen-1'), 'data-state')).toBe('dead');
  }, 20_000);

  it('refuses the page and its data without the token', async () => {
    guarded = await serveDashboard(vigil, { port: 0, token: 'browser-token', ...options });
    const bare = `http://127.0.0.1:${guarded.port}/`;
    for (const url of [bare, `${bare}?token=wrong`]) {
      const res = await page.goto(url);
      expect(res?.status()).toBe(401);
      expect(await page.textContent('body')).toBe('unauthorized\n');
    }
    const res = await page.goto(guarded.url);
    expect(res?.status()).toBe(200);
    await page.waitForSelector('body[data-stream="live"]', { timeout: 5000 });
    await page.waitForSelector(`${row('tcp-alpha')}[data-state="alive"]`, { timeout: 3000 });
    // The page's own origin, without the token: the stream and the API answer 401.
    const statuses = await page.evaluate(async () => Promise.all(['api/stream', 'api/peers', 'metrics'].map(async (p) => (await fetch(p)).status)));
    expect(statuses).toEqual([401, 401, 401]);
  }, 20_000);
});

describe('dashboard of a cluster node in a browser', () => {
  let vigil: VigilServer;
  let dash: DashboardServer | null = null;
  let browser: Browser | null = null;
  let page: Page;
  const cluster = new FakeCluster('node-a');
  const clients: VigilClient[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
    vigil = new VigilServer({ tcp: { port: 0 }, heartbeat: { intervalMs: INTERVAL_MS, timeoutMs: TIMEOUT_MS } });
    const { tcp } = await vigil.listen();
    cluster.peers = [
      clusterPeer('local-1', 'node-a'),
      clusterPeer('remote-b1', 'node-b', { rttMs: 23.4 }),
      clusterPeer('remote-b2', 'node-b'),
      clusterPeer('remote-c1', 'node-c', { state: 'suspect', cause: 'heartbeat-timeout' }),
    ];
    cluster.nodeList = [clusterNode('node-a', 1, { leaseAgeMs: 300 }), clusterNode('node-b', 2, { leaseAgeMs: 1200 }), clusterNode('node-c', 1, { leaseAgeMs: 4700, leaseLeftMs: 300 })];
    dash = await serveDashboard(vigil, { port: 0, kernelIntervalMs: 200, cluster });
    const c = new VigilClient(`tcp://127.0.0.1:${tcp!}`, { id: 'local-1' });
    clients.push(c);
    await c.connect();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(clients.map((c) => c.close()));
    await dash?.close();
    await vigil?.close();
  });

  it('lists every node\'s peers with a Node column, and the nodes with their lease ages', async () => {
    await page.goto(dash!.url);
    await page.waitForSelector('body[data-stream="live"]', { timeout: 5000 });
    for (const [id, node] of [
      ['local-1', 'node-a'],
      ['remote-b1', 'node-b'],
      ['remote-b2', 'node-b'],
      ['remote-c1', 'node-c'],
    ] as const) {
      await page.waitForSelector(row(id), { timeout: 3000 });
      expect(await page.textContent(`${row(id)} .c-node`)).toBe(node);
    }
    expect(await page.isVisible('.th.c-node')).toBe(true);
    // This node's own peer once, from the server (tcp), with its silence and socket; another node's without.
    expect(await page.locator(row('local-1')).count()).toBe(1);
    expect(await page.textContent(`${row('local-1')} .c-transport`)).toBe('tcp');
    expect(await page.textContent(`${row('remote-b1')} .c-transport`)).toBe('ws');
    expect(await page.textContent(`${row('remote-b1')} .c-rtt .v`)).toBe('23.4 ms');
    expect(await page.textContent(`${row('remote-b1')} .c-silence .lbl`)).toBe('—');
    expect(await page.textContent(`${row('remote-b1')} .ksub`)).toBe('on node-b');
    expect(await page.getAttribute(row('remote-c1'), 'data-state')).toBe('suspect');
    expect(await page.textContent(`${row('remote-c1')} .c-cause`)).toBe('heartbeat timeout');
    await page.waitForFunction(() => document.getElementById('peers-live')?.textContent === '4', undefined, { timeout: 3000 });

    await page.waitForSelector('#nodes:not([hidden]) tr[data-node="node-c"]', { timeout: 3000 });
    const nodes = await page.$$eval('#nodes tbody tr', (rows) => rows.map((r) => Array.from(r.querySelectorAll('td'), (td) => td.textContent)));
    expect(nodes).toEqual([
      ['node-a (this)', 'live', '300 ms / 5.0 s', '1'],
      ['node-b', 'live', '1.2 s / 5.0 s', '2'],
      ['node-c', 'live', '4.7 s / 5.0 s', '1'],
    ]);
    expect(await page.getAttribute('#nodes tr[data-node="node-b"] .n-name', 'title')).toBe('host-1, pid 4242');
    expect(await page.textContent('#nodes .node-status')).toBe('node-a: active');

    await page.fill('#filter', 'node-b');
    await page.waitForFunction(() => document.querySelectorAll('.row:not([hidden])').length === 2, undefined, { timeout: 3000 });
    expect(await page.$$eval('.row:not([hidden])', (rows) => rows.map((r) => (r as HTMLElement).dataset['id']).sort())).toEqual(['remote-b1', 'remote-b2']);
    await page.fill('#filter', '');

    // Filtered to one row first: a click on a virtualized row must not race a re-sort.
    await page.fill('#filter', 'remote-b1');
    await page.waitForFunction(() => document.querySelectorAll('.row:not([hidden])').length === 1, undefined, { timeout: 3000 });
    await page.click(row('remote-b1'));
    await page.waitForSelector('#detail .view.kernel', { timeout: 2000 });
    expect(await page.textContent('#detail h2')).toBe('remote-b1');
    expect(await page.textContent('#detail .view.kernel dd')).toBe("node-b: its socket is on that node's host");
    await page.fill('#filter', '');
    await page.waitForFunction(() => document.querySelectorAll('.row:not([hidden])').length === 4, undefined, { timeout: 3000 });
    mkdirSync(join(REPO, 'test-output'), { recursive: true });
    await page.screenshot({ path: join(REPO, 'test-output/dashboard-cluster.png') });
  }, 20_000);

  it('shows a lost node and its peers gone, then a degraded store, without a reload', async () => {
    cluster.peers = cluster.peers.filter((p) => p.node !== 'node-c');
    cluster.nodeList = [clusterNode('node-a', 1), clusterNode('node-b', 2), clusterNode('node-c', 1, { state: 'lost', leaseAgeMs: 5000, leaseLeftMs: 0 })];
    // The node list is read once a second and sent at once: two reads at most.
    await page.waitForSelector('#nodes tr[data-node="node-c"][data-state="lost"]', { timeout: 5000 });
    await page.waitForSelector(row('remote-c1'), { state: 'detached', timeout: 3000 });
    expect(await page.textContent('#nodes tr[data-node="node-c"] .n-state')).toBe('lost');

    cluster.status = { state: 'degraded', reason: 'redis-unreachable' };
    cluster.failNodes = 'cluster store unreachable';
    const status = 'node-a: degraded (redis unreachable) · node list not read: cluster store unreachable';
    await page.waitForFunction((want) => document.querySelector('#nodes .node-status')?.textContent === want, status, { timeout: 5000 });
    expect(await page.getAttribute('#nodes .node-status', 'class')).toContain('warn');
    // The last node list stays on screen.
    expect(await page.locator('#nodes tbody tr').count()).toBe(3);
  }, 20_000);
});
