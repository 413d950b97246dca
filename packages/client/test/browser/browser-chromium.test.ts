/**
 * The browser client in headless Chromium (Debian's, driven by playwright-core over CDP)
 * against a real VigilServer on the test's own HTTP server: a page loads the browser build
 * with one ESM import, connects, exchanges messages and shows RTT; a page whose JavaScript
 * is paused through the DevTools protocol is declared dead within the timeout; a frozen
 * (hidden) page keeps its session past the timeout, and dies at the background bound if it
 * stays away longer; going offline and online reconnects and resumes; a wall-clock jump (a
 * sleep) makes it reconnect instead of writing to the old connection. Everything is torn down.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { StateChange } from '@vigil/core';
import type { Visibility } from '@vigil/protocol';
import { VigilServer } from '@vigil/server';
import type { CDPSession, Page } from 'playwright-core';
import { ensureBrowserBuild } from '../../scripts/build-browser.js';
import { firstMatch, until } from '../support/fake-server.js';
import { startChromium, type Chromium } from './fixtures/chromium.js';
import { serveFixtures, type StaticServer } from './fixtures/static-server.js';

const REPO = join(__dirname, '../../../..');
const INTERVAL_MS = 200;
const TIMEOUT_MS = 800;
const HIDDEN_MS = 3000;
/** Slack for a loaded 2-core machine on top of every deadline: the wheel tick, CDP round trips, scheduling. */
const MARGIN_MS = 1000;

/** What the test page puts on `window`. */
interface PageGlobals {
  vigil: {
    send(m: unknown): boolean;
    sessionId: string | null;
    reconnects: number;
    resumes: number;
    rttMs: number;
    status: { state: string };
    engine: { stats: { pingsSent: number } };
  };
  received: unknown[];
  states: string[];
}

describe('browser client in Chromium', () => {
  let site: StaticServer | null = null;
  let server: VigilServer<unknown, unknown> | null = null;
  let browser: Chromium | null = null;
  const changes: StateChange[] = [];
  const visibility: { id: string; visibility: Visibility }[] = [];
  /** Messages the server got, with how many times the peer's session had been resumed when each arrived. */
  const messages: { id: string; message: unknown; resumes: number }[] = [];
  const pages: Page[] = [];
  const sessions: CDPSession[] = [];

  beforeAll(async () => {
    const bundle = await ensureBrowserBuild();
    site = await serveFixtures(bundle);
    server = new VigilServer({ ws: { server: site.http, path: '/vigil' }, heartbeat: { intervalMs: INTERVAL_MS, timeoutMs: TIMEOUT_MS }, hiddenTimeoutMs: HIDDEN_MS, resume: true });
    await server.listen();
    server.changes$.subscribe((c) => changes.push(c));
    server.visibility$.subscribe((v) => visibility.push({ id: v.peer.id, visibility: v.visibility }));
    server.messages$.subscribe((m) => messages.push({ id: m.peer.id, message: m.message, resumes: m.peer.resumes }));
    browser = await startChromium();
  }, 60_000);

  afterEach(async () => {
    for (const s of sessions.splice(0)) await s.detach().catch(() => undefined);
    await browser?.context.setOffline(false);
    for (const p of pages.splice(0)) await p.close().catch(() => undefined);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await site?.close();
  }, 30_000);

  async function openPage(id: string): Promise<Page> {
    const page = await browser!.context.newPage();
    pages.push(page);
    await page.goto(`${site!.origin}/?id=${id}&hidden=${HIDDEN_MS}`);
    await page.waitForSelector('body[data-state="alive"]', { timeout: 10_000 });
    await until(() => server!.peers.has(id), `${id} on the server`, 5000);
    return page;
  }

  async function cdp(page: Page): Promise<CDPSession> {
    const session = await browser!.context.newCDPSession(page);
    sessions.push(session);
    return session;
  }

  const read = <T>(page: Page, fn: (w: PageGlobals) => T): Promise<T> => page.evaluate(fn as unknown as () => T);
  const deadOf = (id: string, ms: number) => firstMatch(server!.changes$, (c) => c.peerId === id && c.to === 'dead', `${id} declared dead`, ms);
  const toOf = (id: string) => changes.filter((c) => c.peerId === id).map((c) => c.to);
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  it('loads the bundle from one ESM import, connects, exchanges messages both ways and shows RTT', async () => {
    const page = await openPage('page-api');
    const peer = server!.peers.get('page-api')!;
    expect(peer.transport).toBe('ws');
    expect(await read(page, () => (window as unknown as PageGlobals).vigil.send({ from: 'page' }))).toBe(true);
    await until(() => messages.some((m) => m.id === 'page-api'), 'the page message on the server', 5000);
    expect(messages.filter((m) => m.id === 'page-api').map((m) => m.message)).toEqual([{ from: 'page' }]);
    expect(peer.send({ from: 'server' })).toBe(true);
    await page.waitForSelector('#messages:text("1")', { timeout: 5000 });
    expect(await read(page, () => (window as unknown as PageGlobals).received)).toEqual([{ from: 'server' }]);
    await page.waitForFunction(() => Number(document.getElementById('rtt')?.textContent) > 0, undefined, { timeout: 5000 });
    await page.waitForFunction(() => Number.isFinite(Number(document.getElementById('offset')?.textContent)), undefined, { timeout: 5000 });
    expect(await page.textContent('#page')).toBe('visible');
    // The page answers the server's pings (its heartbeat frames encode in a browser): the server has an RTT from its pongs.
    await until(() => !Number.isNaN(peer.rttMs), 'an RTT sample from a pong of the page', 5000);
    mkdirSync(join(REPO, 'test-output'), { recursive: true });
    await page.screenshot({ path: join(REPO, 'test-output/browser-client.png') });
  }, 30_000);

  it('a page whose JavaScript is paused (DevTools) is declared dead within the timeout, and resumes its session afterwards', async () => {
    const page = await openPage('paused');
    const session = await cdp(page);
    await session.send('Debugger.enable');
    const paused = new Promise<void>((resolve) => session.once('Debugger.paused', () => resolve()));
    const dead = deadOf('paused', TIMEOUT_MS + MARGIN_MS + 1000);
    const pausedAt = performance.now();
    await session.send('Debugger.pause');
    // The page's 50 ms display timer runs into the pause at once.
    await paused;
    const death = await dead;
    expect(performance.now() - pausedAt).toBeLessThanOrEqual(TIMEOUT_MS + MARGIN_MS);
    expect(death.cause).toBe('heartbeat-timeout');
    expect(death.silenceMs).toBeGreaterThanOrEqual(TIMEOUT_MS);
    await session.send('Debugger.resume');
    await page.waitForFunction(() => (window as unknown as PageGlobals).vigil.resumes === 1 && (window as unknown as PageGlobals).vigil.status.state === 'alive', undefined, { timeout: 10_000 });
    // `suspect` may come and go on a loaded machine before the pause; the verdicts are exact.
    expect(toOf('paused').filter((s) => s !== 'suspect')).toEqual(['alive', 'dead', 'alive']);
  }, 30_000);

  it('a frozen (hidden) page keeps its session past the normal timeout; back, it says visible and probes', async () => {
    const page = await openPage('frozen');
    const sessionId = await read(page, () => (window as unknown as PageGlobals).vigil.sessionId);
    const pingsBefore = await read(page, () => (window as unknown as PageGlobals).vigil.engine.stats.pingsSent);
    const session = await cdp(page);
    // Hides the page (visibilitychange), fires `freeze`, and stops its tasks.
    await session.send('Page.setWebLifecycleState', { state: 'frozen' });
    await until(() => server!.visibilityOf(server!.peers.get('frozen')!) === 'frozen', 'frozen reported', 5000);
    await sleep(2 * TIMEOUT_MS);
    const peer = server!.peers.get('frozen')!;
    // Silent for twice the timeout, and still there.
    expect(peer.silenceMs).toBeGreaterThanOrEqual(2 * TIMEOUT_MS - 100);
    expect(['alive', 'suspect']).toContain(peer.state);
    const reported = visibility.length;
    await session.send('Page.setWebLifecycleState', { state: 'active' });
    // Focus emulation makes the page visible again.
    await session.send('Emulation.setFocusEmulationEnabled', { enabled: true });
    await until(() => visibility.slice(reported).some((v) => v.id === 'frozen' && v.visibility === 'visible'), 'visible reported', 5000);
    await page.waitForFunction(() => (window as unknown as PageGlobals).vigil.status.state === 'alive', undefined, { timeout: 5000 });
    expect(server!.visibilityOf(peer)).toBe('visible');
    expect(peer.state).toBe('alive');
    // Kept across the resume below: one story, not one per connection. `hidden` between the
    // freeze and the focus arrives unless Chromium delivers the socket's failure first.
    const seen = visibility.filter((v) => v.id === 'frozen').map((v) => v.visibility).join(' ');
    expect(['hidden frozen hidden visible', 'hidden frozen visible']).toContain(seen);
    // Never timed out: the background bound held it while it was frozen.
    expect(changes.filter((c) => c.peerId === 'frozen' && c.cause === 'heartbeat-timeout' && c.to === 'dead')).toEqual([]);
    // Chromium fails a frozen page's WebSocket ("Page entered Back-Forward Cache") and delivers
    // the close on resume: the client then reconnects at once and resumes the same session.
    const { reconnects, resumes } = await read(page, () => ({ reconnects: (window as unknown as PageGlobals).vigil.reconnects, resumes: (window as unknown as PageGlobals).vigil.resumes }));
    expect(resumes).toBe(reconnects);
    expect(await read(page, () => (window as unknown as PageGlobals).vigil.sessionId)).toBe(sessionId);
    // Back, it proved the path at once: a probe on the old connection, or the resume handshake on a new one.
    const pingsAfter = await read(page, () => (window as unknown as PageGlobals).vigil.engine.stats.pingsSent);
    expect(pingsAfter > pingsBefore || resumes > 0).toBe(true);
    // And it answers the server's pings on the connection it has now: an RTT sample from a pong there.
    await until(() => !Number.isNaN(peer.rttMs), 'an RTT sample from a pong of the page', 5000);
  }, 30_000);

  it('a page frozen past the background bound dies at the bound, and resumes its session when it comes back', async () => {
    const page = await openPage('frozen-long');
    const session = await cdp(page);
    const dead = deadOf('frozen-long', HIDDEN_MS + MARGIN_MS + 2000);
    const frozenAt = performance.now();
    await session.send('Page.setWebLifecycleState', { state: 'frozen' });
    const death = await dead;
    const after = performance.now() - frozenAt;
    expect(death.cause).toBe('heartbeat-timeout');
    expect(death.silenceMs).toBeGreaterThanOrEqual(HIDDEN_MS);
    expect(after).toBeGreaterThanOrEqual(HIDDEN_MS - 2 * INTERVAL_MS);
    expect(after).toBeLessThanOrEqual(HIDDEN_MS + MARGIN_MS);
    await session.send('Page.setWebLifecycleState', { state: 'active' });
    await session.send('Emulation.setFocusEmulationEnabled', { enabled: true });
    await page.waitForFunction(() => (window as unknown as PageGlobals).vigil.resumes === 1 && (window as unknown as PageGlobals).vigil.status.state === 'alive', undefined, { timeout: 10_000 });
    expect(server!.peers.get('frozen-long')?.state).toBe('alive');
  }, 30_000);

  it('going offline and online reconnects and resumes; what was sent while offline arrives once', async () => {
    const page = await openPage('offline');
    const sessionId = await read(page, () => (window as unknown as PageGlobals).vigil.sessionId);
    const dead = deadOf('offline', TIMEOUT_MS + MARGIN_MS + 1000);
    await browser!.context.setOffline(true);
    await dead;
    await page.waitForFunction(() => (window as unknown as PageGlobals).vigil.status.state !== 'alive', undefined, { timeout: 5000 });
    expect(await page.textContent('#page')).toBe('offline');
    // Queued in the resumable session while there is no connection.
    expect(await read(page, () => (window as unknown as PageGlobals).vigil.send({ n: 'while-offline' }))).toBe(true);
    await browser!.context.setOffline(false);
    await page.waitForFunction(() => (window as unknown as PageGlobals).vigil.resumes === 1 && (window as unknown as PageGlobals).vigil.status.state === 'alive', undefined, { timeout: 10_000 });
    expect(await read(page, () => (window as unknown as PageGlobals).vigil.sessionId)).toBe(sessionId);
    await until(() => messages.some((m) => m.id === 'offline'), 'the queued message', 5000);
    await sleep(3 * INTERVAL_MS);
    expect(messages.filter((m) => m.id === 'offline')).toEqual([{ id: 'offline', message: { n: 'while-offline' }, resumes: 1 }]);
  }, 30_000);

  it('after a sleep (the wall clock jumps, the monotonic clock does not) it reconnects instead of writing to the old connection', async () => {
    const page = await openPage('sleeper');
    const sessionId = await read(page, () => (window as unknown as PageGlobals).vigil.sessionId);
    const ended = firstMatch(server!.changes$, (c) => c.peerId === 'sleeper' && (c.to === 'dead' || c.to === 'closed'), 'the old connection to end', 5000);
    const sent = await read(page, () => {
      const real = Date.now.bind(Date);
      Date.now = () => real() + 600_000;
      return (window as unknown as PageGlobals).vigil.send({ n: 'after-sleep' });
    });
    expect(sent).toBe(true);
    await ended;
    await page.waitForFunction(() => (window as unknown as PageGlobals).vigil.resumes === 1 && (window as unknown as PageGlobals).vigil.status.state === 'alive', undefined, { timeout: 10_000 });
    expect(await read(page, () => (window as unknown as PageGlobals).vigil.sessionId)).toBe(sessionId);
    await until(() => messages.some((m) => m.id === 'sleeper'), 'the message sent after waking', 5000);
    await sleep(3 * INTERVAL_MS);
    // It went out once, on the resumed connection: the old one got nothing after the jump.
    expect(messages.filter((m) => m.id === 'sleeper')).toEqual([{ id: 'sleeper', message: { n: 'after-sleep' }, resumes: 1 }]);
  }, 30_000);
});
