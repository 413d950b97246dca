/**
 * The browser client's logic in Node, against a real `VigilServer` over loopback: the
 * browser entry's `VigilClient` on `ws`'s WebSocket (same WHATWG shape as the native one),
 * with a scripted page lifecycle. Background mode end to end (the server stretches a hidden
 * peer's timeout within its bound, `visible` restores it and the client probes at once),
 * the wake-from-sleep deadline check, and the options a page cannot have.
 * The same paths in a real browser: browser-chromium.test.ts.
 */
import type { StateChange } from '@vigil/core';
import { ConfigError, ErrorCode, type Visibility } from '@vigil/protocol';
import { VigilServer } from '@vigil/server';
import WebSocket from 'ws';
import { BrowserVigilClient } from '../../src/browser-client.js';
import { BrowserWsTransport, browserTransportFactory, type WebSocketConstructor } from '../../src/browser-transport.js';
import { PageLifecycle, type LifecycleTarget } from '../../src/page-lifecycle.js';
import { Teardown, firstMatch, until } from '../support/fake-server.js';

const INTERVAL_MS = 150;
const TIMEOUT_MS = 600;
const HIDDEN_MS = 2000;
const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

const teardown = new Teardown();
afterEach(() => teardown.run());

type Listener = (event: { readonly persisted?: boolean }) => void;
class FakeTarget implements LifecycleTarget {
  private readonly listeners = new Map<string, Set<Listener>>();
  addEventListener(type: string, listener: Listener): void {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type)!.add(listener);
  }
  removeEventListener(type: string, listener: Listener): void {
    this.listeners.get(type)?.delete(listener);
  }
  fire(type: string): void {
    for (const l of this.listeners.get(type) ?? []) l({});
  }
}

/** A page the test drives: visibility and network, and the lifecycle watching it. */
function fakePage() {
  const document = Object.assign(new FakeTarget(), { visibilityState: 'visible' });
  const window = new FakeTarget();
  const navigator = { onLine: true };
  const lifecycle = new PageLifecycle({ document, window, navigator, wallNow: () => Date.now(), monoNow: () => performance.now() }, { checkEveryMs: 0, sleepThresholdMs: 500 });
  teardown.add(() => lifecycle.dispose());
  return {
    lifecycle,
    show(state: 'visible' | 'hidden'): void {
      document.visibilityState = state;
      document.fire('visibilitychange');
    },
  };
}

async function startServer(options: { resume?: boolean } = {}) {
  const server = new VigilServer({ ws: { port: 0 }, heartbeat: { intervalMs: INTERVAL_MS, timeoutMs: TIMEOUT_MS }, hiddenTimeoutMs: HIDDEN_MS, resume: options.resume ?? false });
  const { ws } = await server.listen();
  teardown.add(() => server.close());
  const changes: StateChange[] = [];
  const visibility: Visibility[] = [];
  server.changes$.subscribe((c) => changes.push(c));
  server.visibility$.subscribe((v) => visibility.push(v.visibility));
  return { server, url: `ws://127.0.0.1:${ws!}/`, changes, visibility };
}

function newClient(url: string, id: string, page: ReturnType<typeof fakePage> | null, transports: BrowserWsTransport[] = []) {
  const client = new BrowserVigilClient<unknown, unknown>(url, {
    id,
    reconnect: { initialMs: 10, maxMs: 50 },
    background: page === null ? false : { lifecycle: page.lifecycle, hiddenTimeoutMs: HIDDEN_MS },
    transportFactory: async (u, o) => {
      const t = (await browserTransportFactory(NodeWebSocket)(u, o)) as BrowserWsTransport;
      transports.push(t);
      return t;
    },
  });
  teardown.add(() => client.close());
  return { client, transports };
}

/** Swallows everything the client writes: the server hears nothing, as from a frozen page. Returns the thaw. */
function freeze(transport: BrowserWsTransport): () => void {
  const send = transport.send.bind(transport);
  transport.send = () => true;
  return () => {
    transport.send = send;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('browser VigilClient (in Node, over ws) against VigilServer', () => {
  it('has the Node API: connects, exchanges data both ways, learns RTT and clock offset', async () => {
    const s = await startServer();
    const { client } = newClient(s.url, 'api', null);
    const fromClient = firstMatch(s.server.messages$, (m) => m.peer.id === 'api', 'the message from the client');
    await client.connect();
    expect(client.send({ hello: 'server' })).toBe(true);
    expect((await fromClient).message).toEqual({ hello: 'server' });
    const fromServer = firstMatch(client.messages$, () => true, 'the message from the server');
    s.server.peers.get('api')!.send({ hello: 'page' });
    expect(await fromServer).toEqual({ hello: 'page' });
    await until(() => !Number.isNaN(client.rttMs) && !Number.isNaN(client.clockOffsetMs), 'RTT and offset', 3000);
    expect(client.lifecycle).toBeNull();
  });

  it('a hidden page that goes silent keeps its session past the normal timeout and dies at the background bound', async () => {
    const s = await startServer();
    const page = fakePage();
    const { client, transports } = newClient(s.url, 'hidden', page);
    await client.connect();
    page.show('hidden');
    await until(() => s.visibility.length === 1, 'the server to hear hidden', 2000);
    expect(s.visibility).toEqual(['hidden']);
    const dead = firstMatch(s.server.changes$, (c) => c.peerId === 'hidden' && c.to === 'dead', 'the hidden peer to die', HIDDEN_MS + 3000);
    const frozenAt = performance.now();
    freeze(transports[0]!);
    await sleep(2 * TIMEOUT_MS);
    expect(s.server.peers.get('hidden')?.state).toBe('suspect');
    const death = await dead;
    const after = performance.now() - frozenAt;
    expect(death.cause).toBe('heartbeat-timeout');
    // Silence counts from the last frame before the freeze; the wheel may fire a tick late, and this machine may be loaded.
    expect(death.silenceMs).toBeGreaterThanOrEqual(HIDDEN_MS);
    expect(after).toBeLessThanOrEqual(HIDDEN_MS + 1000);
    expect(s.changes.filter((c) => c.peerId === 'hidden').map((c) => c.to)).toEqual(['alive', 'suspect', 'dead']);
  });

  it('back to visible: the client says so and probes at once, and the normal timeout applies again', async () => {
    const s = await startServer();
    const page = fakePage();
    const { client, transports } = newClient(s.url, 'returns', page);
    await client.connect();
    page.show('hidden');
    await until(() => s.visibility.length === 1, 'the server to hear hidden', 2000);
    const thaw = freeze(transports[0]!);
    await sleep(TIMEOUT_MS + 400);
    thaw();
    const pingsBefore = client.engine.stats.pingsSent;
    page.show('visible');
    await until(() => s.visibility.length === 2, 'the server to hear visible', 2000);
    expect(s.visibility).toEqual(['hidden', 'visible']);
    expect(client.engine.stats.pingsSent).toBe(pingsBefore + 1);
    await until(() => s.server.peers.get('returns')?.state === 'alive', 'alive again', 2000);
    // Normal timing again: a silence of the timeout now kills.
    const dead = firstMatch(s.server.changes$, (c) => c.peerId === 'returns' && c.to === 'dead', 'the visible peer to die', TIMEOUT_MS + 2000);
    const frozenAt = performance.now();
    freeze(transports[0]!);
    await dead;
    expect(performance.now() - frozenAt).toBeLessThanOrEqual(TIMEOUT_MS + 1000);
    expect(client.sessionId).not.toBeNull();
    expect(client.reconnects).toBe(0);
  });

  it('a new session while hidden is told at once', async () => {
    const s = await startServer();
    const page = fakePage();
    page.show('hidden');
    const { client } = newClient(s.url, 'born-hidden', page);
    await client.connect();
    await until(() => s.visibility.length === 1, 'the server to hear hidden', 2000);
    expect(s.server.visibilityOf(s.server.peers.get('born-hidden')!)).toBe('hidden');
  });

  it('a resumed session keeps its visibility and background bound; a report lost with the old connection is made again', async () => {
    const s = await startServer({ resume: true });
    const page = fakePage();
    const { client, transports } = newClient(s.url, 'resumed', page);
    await client.connect();
    page.show('hidden');
    await until(() => s.visibility.length === 1, 'the server to hear hidden', 2000);
    // The page comes back while its connection is already gone (as when Chromium fails a
    // frozen page's WebSocket): the `visible` report goes into the dead connection.
    freeze(transports[0]!);
    page.show('visible');
    expect(s.visibility).toEqual(['hidden']);
    const peer = s.server.peers.get('resumed')!;
    transports[0]!.ws.close();
    await until(() => client.resumes === 1 && client.status.state === 'alive', 'the session to resume', 5000);
    // Resumed, it says its state again: the server hears `visible` once, and the normal timeout applies.
    await until(() => s.visibility.length === 2, 'the server to hear visible', 2000);
    expect(s.visibility).toEqual(['hidden', 'visible']);
    expect(s.server.visibilityOf(peer)).toBe('visible');
    expect(peer.connection.monitor.backgroundTimeoutMs).toBe(0);
  });

  it('a page still hidden after a resume stays judged by the background bound', async () => {
    const s = await startServer({ resume: true });
    const page = fakePage();
    const { client, transports } = newClient(s.url, 'still-hidden', page);
    await client.connect();
    page.show('hidden');
    await until(() => s.visibility.length === 1, 'the server to hear hidden', 2000);
    const peer = s.server.peers.get('still-hidden')!;
    transports[0]!.ws.close();
    await until(() => client.resumes === 1 && client.status.state === 'alive', 'the session to resume', 5000);
    expect(s.server.visibilityOf(peer)).toBe('hidden');
    expect(peer.connection.monitor.backgroundTimeoutMs).toBe(HIDDEN_MS);
    // The repeated `hidden` is no change: no second event.
    await sleep(2 * INTERVAL_MS);
    expect(s.visibility).toEqual(['hidden']);
  });

  it('after a sleep past its deadline it reconnects (and resumes) without writing to the old connection', async () => {
    const s = await startServer({ resume: true });
    const { client, transports } = newClient(s.url, 'sleeper', fakePage());
    await client.connect();
    const first = transports[0]!;
    const writes: Uint8Array[] = [];
    const send = first.send.bind(first);
    first.send = (p: Uint8Array) => {
      writes.push(p);
      return send(p);
    };
    const received = firstMatch(s.server.messages$, (m) => m.peer.id === 'sleeper', 'the message sent after waking');
    // Ten minutes pass on the wall clock only, as across a suspend.
    const now = Date.now();
    const spy = jest.spyOn(Date, 'now').mockImplementation(() => now + 600_000);
    teardown.add(() => spy.mockRestore());
    expect(client.send({ after: 'sleep' })).toBe(true);
    expect(writes).toEqual([]);
    expect(client.status.state).toBe('connecting');
    expect((await received).message).toEqual({ after: 'sleep' });
    await until(() => client.resumes === 1, 'the resume', 3000);
    expect(client.reconnects).toBe(1);
    expect(writes).toEqual([]);
  });

  it('after a sleep within the background bound it probes instead', async () => {
    const s = await startServer();
    const page = fakePage();
    const { client } = newClient(s.url, 'napper', page);
    await client.connect();
    page.show('hidden');
    await until(() => s.visibility.length === 1, 'the server to hear hidden', 2000);
    const pings = client.engine.stats.pingsSent;
    const now = Date.now();
    const spy = jest.spyOn(Date, 'now').mockImplementation(() => now + HIDDEN_MS / 2);
    teardown.add(() => spy.mockRestore());
    expect(page.lifecycle.checkClocks()?.sleptMs).toBeGreaterThanOrEqual(HIDDEN_MS / 2 - 50);
    expect(client.engine.stats.pingsSent).toBe(pings + 1);
    expect(client.status.state).toBe('alive');
    expect(client.reconnects).toBe(0);
  });

  it('refuses what a page cannot have: tcp:// URLs, kernel and TLS options', () => {
    expect(() => new BrowserVigilClient('tcp://127.0.0.1:1')).toThrow(expect.objectContaining({ code: ErrorCode.InvalidUrl }));
    expect(() => new BrowserVigilClient('ws://127.0.0.1:1', { kernel: { noDelay: true } })).toThrow(ConfigError);
    expect(() => new BrowserVigilClient('wss://127.0.0.1:1', { tls: { rejectUnauthorized: false } })).toThrow(ConfigError);
    expect(() => new BrowserVigilClient('ws://127.0.0.1:1', { background: { hiddenTimeoutMs: -1 } })).toThrow(ConfigError);
  });
});
