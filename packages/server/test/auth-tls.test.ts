/**
 * Who may connect. The authenticate hook: token in hello, async, its own deadline; a
 * refusal is close 4003 with a typed reason the client surfaces (`RejectedError`, status
 * `closed` with cause `rejected`) and does not retry, while soft refusals (1011, 4009)
 * are retried. TLS: `tls://` and `wss://` with a self-signed certificate generated here
 * by openssl; clients without the CA, plaintext clients on the TLS port and silent TLS
 * sockets are turned away without disturbing the server.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { VigilClient } from '@vigil/client';
import { CloseCode, ErrorCode, RejectedError, type HelloMessage } from '@vigil/protocol';
import { VigilServer, createMetrics, type Authenticate, type VigilServerOptions } from '@vigil/server';
import { TcpTransport, WsTransport } from '@vigil/transport';
import { connect } from 'node:net';
import type { Registry } from 'prom-client';
import { loopbackHooks, until } from './support/loopback.js';

const { teardown } = loopbackHooks();

async function startServer(options: Partial<VigilServerOptions>): Promise<{ server: VigilServer<string, string>; tcp: number; ws: number; registry: Registry }> {
  const server = new VigilServer<string, string>({ tcp: { port: 0 }, ws: { port: 0 }, lingerMs: 300, ...options });
  teardown.add(() => server.close());
  const registry = createMetrics(server as unknown as VigilServer);
  const ports = await server.listen();
  return { server, tcp: ports.tcp!, ws: ports.ws!, registry };
}

function client(url: string, options: ConstructorParameters<typeof VigilClient<string, string>>[1] = {}): VigilClient<string, string> {
  const c = new VigilClient<string, string>(url, { reconnect: { initialMs: 5, maxMs: 10 }, ...options });
  teardown.add(() => c.close());
  return c;
}

async function refused(c: VigilClient<string, string>): Promise<unknown> {
  try {
    await c.connect();
  } catch (error) {
    return error;
  }
  throw new Error('connect() resolved');
}

async function metric(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return m?.values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))?.value ?? 0;
}

/** A token check that takes a little while, as a real one (a database, an identity provider) would. */
const tokens: Authenticate = async (hello: HelloMessage) => {
  await new Promise((r) => setTimeout(r, 30));
  const token = hello.options.token;
  if (token === 'alice-token') return { ok: true, peerId: 'alice', meta: { role: 'admin' } };
  if (token === 'busy') return { ok: false, code: CloseCode.RateLimited, reason: 'try later' };
  return { ok: false, reason: token === undefined ? 'token required' : 'invalid token' };
};

describe.each(['tcp', 'ws'] as const)('authenticate hook over %s', (kind) => {
  test('a good token is admitted under the id and metadata the hook gives', async () => {
    const { server, ...ports } = await startServer({ authenticate: tokens });
    const c = client(`${kind}://127.0.0.1:${ports[kind]}`, { id: 'asked-for', token: 'alice-token' });
    await c.connect();
    expect(c.peerId).toBe('alice');
    const peer = server.peers.get('alice')!;
    expect(peer.meta.get('role')).toBe('admin');
    const got: string[] = [];
    server.messages$.subscribe(({ message }) => got.push(message));
    c.send('hi');
    await until(() => got.length === 1, 'a message from the admitted client');
  });

  test('a bad token is refused with close 4003 and its reason; the client surfaces a RejectedError, ends rejected and does not retry', async () => {
    const { server, registry, ...ports } = await startServer({ authenticate: tokens });
    const c = client(`${kind}://127.0.0.1:${ports[kind]}`, { id: 'mallory', token: 'forged' });
    const error = await refused(c);
    expect(error).toBeInstanceOf(RejectedError);
    expect(error).toMatchObject({ code: ErrorCode.Rejected, closeCode: CloseCode.Unauthorized, reason: 'invalid token', final: true });
    expect(c.status).toMatchObject({ state: 'closed', cause: 'rejected' });
    // No retry: over several backoff periods the server sees that one attempt only.
    await new Promise((r) => setTimeout(r, 200));
    expect(server.counters.accepted).toBe(1);
    expect(await metric(registry, 'vigil_connections_refused_total', { reason: 'unauthorized' })).toBe(1);
    expect(server.peers.size).toBe(0);
  });

  test('no token at all is refused too', async () => {
    const { ...ports } = await startServer({ authenticate: tokens });
    const error = await refused(client(`${kind}://127.0.0.1:${ports[kind]}`, { id: 'anon' }));
    expect(error).toMatchObject({ closeCode: CloseCode.Unauthorized, reason: 'token required' });
  });
});

describe('authenticate hook: soft failures are retried', () => {
  test('a hook that misses its deadline gives close 1011; the client keeps trying and gets in once the hook answers', async () => {
    let slow = true;
    const { server, registry, tcp } = await startServer({
      authTimeoutMs: 100,
      authenticate: async () => {
        if (slow) await new Promise((r) => setTimeout(r, 1000));
        return { ok: true };
      },
    });
    const c = client(`tcp://127.0.0.1:${tcp}`, { id: 'waiter' });
    void c.connect().catch(() => undefined);
    await until(() => c.lastError instanceof RejectedError, 'the first refusal', 3000);
    expect(c.lastError).toMatchObject({ closeCode: CloseCode.InternalError, reason: 'authentication timed out', final: false });
    slow = false;
    await until(() => c.status.state === 'alive', 'admitted once the hook is quick', 5000);
    expect(server.counters.accepted).toBeGreaterThanOrEqual(2);
    expect(await metric(registry, 'vigil_connections_refused_total', { reason: 'auth-error' })).toBeGreaterThanOrEqual(1);
  });

  test('a hook that throws gives close 1011 "authentication failed"; a hook refusing with 4009 is retried as well', async () => {
    let calls = 0;
    const { tcp } = await startServer({
      authenticate: (hello) => {
        calls++;
        if (hello.clientId === 'thrown') throw new Error('backend down');
        return calls < 3 ? tokens({ ...hello, options: { token: 'busy' } }, { remote: '', transport: 'tcp' }) : { ok: true };
      },
    });
    const a = client(`tcp://127.0.0.1:${tcp}`, { id: 'thrown', reconnect: false });
    expect(await refused(a)).toMatchObject({ closeCode: CloseCode.InternalError, reason: 'authentication failed', final: false });
    calls = 0;
    const b = client(`tcp://127.0.0.1:${tcp}`, { id: 'busy' });
    await b.connect();
    expect(calls).toBe(3);
    expect(b.status.state).toBe('alive');
  });
});

describe('TLS', () => {
  let dir: string;
  let cert: string;
  let key: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    key = readFileSync(join(dir, 'key.pem'), 'utf8');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.each([
    ['tls', '127.0.0.1'],
    ['wss', 'localhost'],
  ] as const)('%s:// with a self-signed certificate the client trusts: handshake, messages both ways, over an encrypted socket', async (scheme, host) => {
    const { server, tcp, ws } = await startServer({ tls: { cert, key } });
    const c = client(`${scheme}://${host}:${scheme === 'tls' ? tcp : ws}`, { id: `secure-${scheme}`, tls: { ca: cert } });
    const toClient: string[] = [];
    c.messages$.subscribe((m) => toClient.push(m));
    const toServer: string[] = [];
    server.messages$.subscribe(({ message }) => toServer.push(message));
    await c.connect();
    const peer = server.peers.get(`secure-${scheme}`)!;
    peer.send('down');
    c.send('up');
    await until(() => toClient.length === 1 && toServer.length === 1, 'a message each way');
    expect([toClient, toServer]).toEqual([['down'], ['up']]);
    const t = peer.connection.transport;
    const socket = t instanceof TcpTransport ? t.socket : t instanceof WsTransport ? (t.ws as unknown as { _socket: unknown })._socket : null;
    expect(socket).toBeInstanceOf(TLSSocket);
    expect((socket as TLSSocket).getProtocol()).toMatch(/^TLSv1\.[23]$/);
    expect(peer.transport).toBe(scheme === 'tls' ? 'tcp' : 'ws');
  });

  test.each(['tls', 'wss'] as const)('%s:// without the CA: the certificate is refused and the client never gets in', async (scheme) => {
    const { server, tcp, ws } = await startServer({ tls: { cert, key } });
    const c = client(`${scheme}://127.0.0.1:${scheme === 'tls' ? tcp : ws}`, { id: 'trusting-nobody', reconnect: false });
    const error = await refused(c);
    expect((error as { code?: string }).code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);
    expect(server.peers.size).toBe(0);
  });

  test('a plaintext Vigil client on the TLS port fails the TLS handshake, is counted, and the server carries on', async () => {
    const { server, registry, tcp } = await startServer({ tls: { cert, key } });
    const plain = client(`tcp://127.0.0.1:${tcp}`, { id: 'plain', reconnect: false, handshakeTimeoutMs: 1000 });
    await refused(plain);
    await until(() => server.counters.refusedBy.get('tls-error') === 1, 'the TLS failure counted');
    expect(await metric(registry, 'vigil_connections_refused_total', { reason: 'tls-error' })).toBe(1);
    const good = client(`tls://localhost:${tcp}`, { id: 'good', tls: { ca: cert } });
    await good.connect();
    expect(server.peers.has('good')).toBe(true);
  });

  test.each(['tcp', 'ws'] as const)('a socket that never starts TLS on the %s listener is dropped after handshakeTimeoutMs', async (kind) => {
    const { tcp, ws } = await startServer({ tls: { cert, key }, heartbeat: { handshakeTimeoutMs: 300 } });
    const socket = connect({ host: '127.0.0.1', port: kind === 'tcp' ? tcp : ws });
    teardown.add(() => socket.destroy());
    socket.on('error', () => undefined);
    const opened = performance.now();
    await new Promise((r) => socket.once('close', r));
    const ms = performance.now() - opened;
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(2000);
  });

  test('a token travels over TLS to the authenticate hook', async () => {
    const { server, tcp } = await startServer({ tls: { cert, key }, authenticate: tokens });
    const c = client(`tls://localhost:${tcp}`, { token: 'alice-token', tls: { ca: cert } });
    await c.connect();
    expect(server.peers.has('alice')).toBe(true);
  });
});
