/**
 * Limits with safe defaults, each with a clear close reason and a metric: the handshake
 * deadline (4000), the frame size (1009), max connections (4008) and the per-address
 * connection rate (4009), the send-buffer cap for a peer that stops reading (4005,
 * `slow-consumer`, memory bounded), and the ping flood (strikes, then goaway
 * `too-many-pings` and 4006). Real loopback sockets; the token bucket and the strike
 * counter also in isolation.
 */
import { VigilClient } from '@vigil/client';
import { CloseCode, MessageType, PROTOCOL_VERSION, type Message } from '@vigil/protocol';
import { ConnectionRateLimiter, LIMIT_DEFAULTS, PingStrikes, VigilServer, createMetrics, type VigilServerOptions } from '@vigil/server';
import { TcpTransport, WsTransport } from '@vigil/transport';
import type { Socket } from 'node:net';
import type { Registry } from 'prom-client';
import { RawTcpPeer, RawWsPeer, loopbackHooks, until } from './support/loopback.js';

const { teardown } = loopbackHooks();

async function startServer(kind: 'tcp' | 'ws', options: Partial<VigilServerOptions>): Promise<{ server: VigilServer; port: number; registry: Registry }> {
  const server = new VigilServer({ [kind]: { port: 0 }, lingerMs: 300, ...options });
  teardown.add(() => server.close());
  const registry = createMetrics(server);
  const port = (await server.listen())[kind]!;
  return { server, port, registry };
}

/** The value of one metric series (0 if absent). */
async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const series = m?.values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value));
  return series?.value ?? 0;
}

function hello(clientId: string): Message {
  return { type: MessageType.Hello, version: PROTOCOL_VERSION, clientId, options: {} };
}

async function rawTcp(port: number): Promise<RawTcpPeer> {
  const raw = await RawTcpPeer.connect(port);
  teardown.add(() => raw.destroy());
  return raw;
}

describe('each limit closes with a clear reason and counts in a metric', () => {
  test('handshake deadline: silence after connecting gets close 4000 and vigil_peer_deaths_total{cause="handshake-timeout"}', async () => {
    const { port, registry } = await startServer('tcp', { heartbeat: { handshakeTimeoutMs: 200 } });
    const raw = await rawTcp(port);
    await raw.closed;
    expect(raw.messages()).toEqual([{ type: MessageType.Close, code: CloseCode.HandshakeTimeout, reason: 'handshake-timeout' }]);
    expect(await metric(registry, 'vigil_peer_deaths_total', { cause: 'handshake-timeout' })).toBe(1);
  });

  test('frame size: a header above maxFrameBytes gets close 1009 and vigil_peer_deaths_total{cause="frame-too-large"}', async () => {
    const { port, registry } = await startServer('tcp', { maxFrameBytes: 1024 });
    const raw = await rawTcp(port);
    raw.write(Uint8Array.of(0, 0, 4, 1));
    await raw.closed;
    expect(raw.messages()).toEqual([{ type: MessageType.Close, code: CloseCode.FrameTooLarge, reason: 'frame of 1025 bytes exceeds the limit of 1024 bytes' }]);
    expect(await metric(registry, 'vigil_peer_deaths_total', { cause: 'frame-too-large' })).toBe(1);
  });

  test('max connections: one too many gets close 4008 and vigil_connections_refused_total{reason="server-full"}', async () => {
    const { server, port, registry } = await startServer('tcp', { maxConnections: 2 });
    const a = await rawTcp(port);
    const b = await rawTcp(port);
    await until(() => server.connectionCount === 2, 'two connections open');
    const c = await rawTcp(port);
    await c.closed;
    expect(c.messages()).toEqual([{ type: MessageType.Close, code: CloseCode.ServerFull, reason: 'server full' }]);
    expect(await metric(registry, 'vigil_connections_refused_total', { reason: 'server-full' })).toBe(1);
    expect(a.socket.destroyed || b.socket.destroyed).toBe(false);
  });

  test.each(['tcp', 'ws'] as const)('per-address connection rate over %s: past the burst, close 4009 and vigil_connections_refused_total{reason="rate-limited"}; the bucket refills', async (kind) => {
    const { server, port, registry } = await startServer(kind, { connectionRate: { perSecond: 1, burst: 3 } });
    const closes: Message[][] = [];
    for (let i = 0; i < 5; i++) {
      if (kind === 'tcp') {
        const raw = await rawTcp(port);
        closes.push([]);
        const at = closes.length - 1;
        void raw.closed.then(() => (closes[at] = raw.messages()));
      } else {
        const raw = await RawWsPeer.connect(port);
        teardown.add(() => raw.destroy());
        closes.push([]);
        const at = closes.length - 1;
        void raw.closed.then(() => (closes[at] = raw.received));
      }
    }
    await until(() => closes.filter((c) => c.length > 0).length === 2, 'two refusals');
    const refusal = { type: MessageType.Close, code: CloseCode.RateLimited, reason: 'rate-limited: too many connections from this address' };
    expect(closes.map((c) => c[0] ?? null)).toEqual([null, null, null, refusal, refusal]);
    expect(server.connectionCount).toBe(3);
    expect(await metric(registry, 'vigil_connections_refused_total', { reason: 'rate-limited' })).toBe(2);
    // One token a second: after a second, one more is let in.
    await new Promise((r) => setTimeout(r, 1100));
    const client = new VigilClient(`${kind}://127.0.0.1:${port}`, { id: 'patient', reconnect: false });
    teardown.add(() => client.close());
    await client.connect();
    expect(server.peers.has('patient')).toBe(true);
  });

  test.each(['tcp', 'ws'] as const)(
    'send-buffer cap over %s: a peer that stops reading is closed as slow-consumer (4005) well before the heartbeat would, and the backlog never passes the cap',
    async (kind) => {
      const cap = 256 * 1024;
      const { server, port, registry } = await startServer(kind, { maxSendBufferBytes: cap, maxFrameBytes: 64 * 1024, heartbeat: { intervalMs: 2000, timeoutMs: 8000 } });
      let socket: Socket;
      if (kind === 'tcp') {
        const raw = await rawTcp(port);
        raw.send(hello('sleeper'));
        socket = raw.socket;
      } else {
        const raw = await RawWsPeer.connect(port);
        teardown.add(() => raw.destroy());
        raw.send(hello('sleeper'));
        socket = (raw.ws as unknown as { _socket: Socket })._socket;
      }
      await until(() => server.peers.has('sleeper'), 'the handshake');
      // The peer's process stops reading: its kernel buffers fill, then ours, then Node's.
      socket.pause();
      const peer = server.peers.get('sleeper')!;
      const transport = peer.connection.transport;
      const buffered = (): number => (transport instanceof TcpTransport ? transport.socket.writableLength : transport instanceof WsTransport ? transport.ws.bufferedAmount : 0);
      const body = new Uint8Array(16 * 1024);
      let maxBuffered = 0;
      let sent = 0;
      const startedAt = performance.now();
      const pump = setInterval(() => {
        for (let i = 0; i < 16 && peer.state === 'alive'; i++) {
          peer.send(body);
          sent++;
          maxBuffered = Math.max(maxBuffered, buffered());
        }
      }, 1);
      teardown.add(() => clearInterval(pump));
      await until(() => peer.state === 'dead', 'the slow consumer closed', 7000);
      clearInterval(pump);
      const tookMs = performance.now() - startedAt;
      console.log(`[${kind}] slow consumer closed after ${Math.round(tookMs)} ms and ${sent} messages of 16 KiB; largest unsent backlog ${maxBuffered} bytes (cap ${cap})`);
      expect(peer.status.cause).toBe('slow-consumer');
      expect(tookMs).toBeLessThan(6000);
      // Memory bounded: never more than the cap plus the one message that crossed it (and its framing).
      expect(maxBuffered).toBeLessThanOrEqual(cap + body.length + 16);
      expect(await metric(registry, 'vigil_peer_deaths_total', { cause: 'slow-consumer' })).toBe(1);
    },
    15_000,
  );

  test('ping flood: pings faster than minPingInterval earn strikes, then goaway too-many-pings and close 4006', async () => {
    const { server, port, registry } = await startServer('tcp', { minPingIntervalMs: 200, maxPingStrikes: 2 });
    const raw = await rawTcp(port);
    raw.send(hello('flooder'));
    await until(() => server.peers.has('flooder'), 'the handshake');
    const peer = server.peers.get('flooder')!;
    for (let seq = 1; seq <= 10 && !raw.socket.destroyed; seq++) {
      raw.send({ type: MessageType.Ping, seq, ts: seq });
      await new Promise((r) => setTimeout(r, 5));
    }
    await raw.closed;
    const got = raw.messages();
    const welcome = got.find((m) => m.type === MessageType.Welcome);
    expect(welcome).toMatchObject({ options: { minPingInterval: 200 } });
    // The first ping is on time; the next two are strikes; the fourth is one too many.
    expect(got.filter((m) => m.type === MessageType.Pong)).toHaveLength(4);
    expect(got.slice(-2)).toEqual([
      { type: MessageType.GoAway, code: CloseCode.TooManyPings, reconnectDelay: 1000, reason: 'too-many-pings' },
      { type: MessageType.Close, code: CloseCode.TooManyPings, reason: 'too-many-pings' },
    ]);
    expect(peer.status).toMatchObject({ state: 'closed', cause: 'too-many-pings' });
    expect(await metric(registry, 'vigil_ping_strikes_total')).toBe(3);
    expect(await metric(registry, 'vigil_goaways_total', { reason: 'too-many-pings' })).toBe(1);
    expect(await metric(registry, 'vigil_peer_closes_total', { cause: 'too-many-pings' })).toBe(1);
  });

  test('a VigilClient holds itself to the advertised minPingInterval: probing in a loop earns no strike', async () => {
    const { server, port } = await startServer('tcp', { minPingIntervalMs: 200, maxPingStrikes: 0 });
    const client = new VigilClient(`tcp://127.0.0.1:${port}`, { id: 'eager' });
    teardown.add(() => client.close());
    await client.connect();
    const sent: boolean[] = [];
    const startedAt = performance.now();
    for (let i = 0; i < 50; i++) {
      sent.push(client.probe());
      await new Promise((r) => setTimeout(r, 10));
    }
    const elapsed = performance.now() - startedAt;
    // One ping per 200 ms at most, however slowly the loop ran.
    expect(sent.filter(Boolean).length).toBeGreaterThanOrEqual(2);
    expect(sent.filter(Boolean).length).toBeLessThanOrEqual(Math.floor(elapsed / 200) + 1);
    expect(server.counters.pingStrikes).toBe(0);
    expect(server.peers.get('eager')?.state).toBe('alive');
  });
});

describe('safe defaults', () => {
  test('every limit is on by default with the named values', () => {
    expect(LIMIT_DEFAULTS).toEqual({
      maxConnections: 20_000,
      connectionsPerSecond: 100,
      connectionBurst: 200,
      rateLimitAddresses: 10_000,
      maxSendBufferBytes: 8 * 1024 * 1024,
      minPingIntervalMs: 1000,
      maxPingStrikes: 2,
    });
  });
});

describe('ConnectionRateLimiter', () => {
  test('a bucket of `burst` per address, refilled at `perSecond`', () => {
    const limiter = new ConnectionRateLimiter({ perSecond: 2, burst: 3 });
    expect([0, 0, 0, 0].map(() => limiter.take('10.0.0.1', 0))).toEqual([true, true, true, false]);
    expect(limiter.take('10.0.0.2', 0)).toBe(true);
    expect(limiter.take('10.0.0.1', 499)).toBe(false);
    expect(limiter.take('10.0.0.1', 500)).toBe(true);
    expect(limiter.take('10.0.0.1', 500)).toBe(false);
    // Refill stops at the burst.
    expect([0, 0, 0, 0].map(() => limiter.take('10.0.0.1', 60_000))).toEqual([true, true, true, false]);
  });

  test('memory stays bounded under many addresses', () => {
    const limiter = new ConnectionRateLimiter({ perSecond: 1, burst: 1 }, 100);
    for (let i = 0; i < 10_000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`, i);
    expect(limiter.size).toBeLessThanOrEqual(100);
  });
});

describe('PingStrikes', () => {
  test('early pings are strikes, an on-time one clears them, one past the allowance is a flood', () => {
    const s = new PingStrikes(100, 2);
    expect([0, 10, 20].map((t) => s.observe(t))).toEqual(['ok', 'strike', 'strike']);
    expect(s.observe(200)).toBe('ok');
    expect([210, 220, 230].map((t) => s.observe(t))).toEqual(['strike', 'strike', 'flood']);
  });

  test('a ping sent on time but arriving early by jitter is no strike; under half the minimum is', () => {
    const s = new PingStrikes(100, 0);
    expect([0, 130, 180].map((t) => s.observe(t))).toEqual(['ok', 'ok', 'ok']);
    expect(s.observe(229)).toBe('flood');
  });
});
