/**
 * Graceful drain: `server.drain()` stops accepting, gives each client a goaway with its
 * own reconnect delay spread over the window, closes in order, and destroys what remains
 * at the deadline. Clients honour the delay, so they come back to the next server on the
 * same port in a smooth wave: the test prints the histogram of arrivals and checks that no
 * tenth of the window gets more than twice its fair share. Quick form: 300 clients over
 * 2 s; `pnpm test:soak`: 1,000 clients over 5 s.
 */
import { VigilClient, nodeTransportFactory } from '@vigil/client';
import { monotonicNow } from '@vigil/core';
import { CloseCode, FrameDecoder, MessageType, PROTOCOL_VERSION, decodeMessage, encodeFrame, encodeMessage } from '@vigil/protocol';
import { connect } from 'node:net';
import { VigilServer, createMetrics, spreadDelays } from '@vigil/server';
import { RawTcpPeer, loopbackHooks, until } from './support/loopback.js';

const SOAK = process.env['VIGIL_SOAK'] === '1';
const CLIENTS = SOAK ? 1000 : 300;
const WINDOW_MS = SOAK ? 5000 : 2000;
const BUCKETS = 10;

const { teardown } = loopbackHooks();

/** Counts per tenth (`buckets`) of the window; arrivals after the window (reconnect latency) in one extra bin at the end. */
function histogram(offsets: readonly number[], windowMs: number, buckets: number): number[] {
  const counts = new Array<number>(buckets + 1).fill(0);
  for (const ms of offsets) counts[Math.min(buckets, Math.max(0, Math.floor((ms / windowMs) * buckets)))]!++;
  return counts;
}

function render(counts: readonly number[], windowMs: number): string {
  const buckets = counts.length - 1;
  const width = windowMs / buckets;
  const max = Math.max(...counts);
  return counts
    .map((n, i) => {
      const label = i < buckets ? `${String(Math.round(i * width)).padStart(5)}-${String(Math.round((i + 1) * width)).padEnd(5)} ms` : `   after window  `;
      return `  ${label} ${String(n).padStart(4)} ${'#'.repeat(Math.round((n / max) * 40))}`;
    })
    .join('\n');
}

test(
  `${CLIENTS} clients drained over ${WINDOW_MS} ms come back to a new server on the same port in a smooth wave, each after its own delay`,
  async () => {
    const old = new VigilServer({ tcp: { port: 0 }, connectionRate: false, lingerMs: 1000 });
    teardown.add(() => old.close());
    const metrics = createMetrics(old);
    const port = (await old.listen()).tcp!;
    const url = `tcp://127.0.0.1:${port}`;

    // Each client's goaway delay, read off the wire by a second subscriber to its transport's frames.
    const delays = new Map<string, number>();
    const clients: VigilClient[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const id = `c${i}`;
      const client = new VigilClient(url, {
        id,
        reconnect: { initialMs: 50, maxMs: 200 },
        transportFactory: async (u, options) => {
          const transport = await nodeTransportFactory(u, options);
          transport.frames.subscribe({
            next: (payload) => {
              const m = decodeMessage(payload);
              if (m.type === MessageType.GoAway) delays.set(id, m.reconnectDelay);
            },
            error: () => undefined,
          });
          return transport;
        },
      });
      clients.push(client);
      teardown.add(() => client.close());
    }
    for (let i = 0; i < CLIENTS; i += 100) await Promise.all(clients.slice(i, i + 100).map((c) => c.connect()));
    expect(old.peers.size).toBe(CLIENTS);

    const next = new VigilServer({ tcp: { port }, connectionRate: false });
    teardown.add(() => next.close());
    const arrivals = new Map<string, number>();
    let t0 = 0;
    next.connections$.subscribe((peer) => arrivals.set(peer.id, monotonicNow() - t0));

    t0 = monotonicNow();
    const drained = old.drain({ windowMs: WINDOW_MS, deadlineMs: WINDOW_MS });
    // The old listener is closed at once: the new server takes the port straight away.
    await next.listen();
    await drained;
    const drainMs = monotonicNow() - t0;
    await until(() => arrivals.size === CLIENTS, 'every client back on the new server', WINDOW_MS + 10_000);

    const offsets = [...arrivals.values()];
    const counts = histogram(offsets, WINDOW_MS, BUCKETS).slice(0, BUCKETS);
    const afterWindow = histogram(offsets, WINDOW_MS, BUCKETS)[BUCKETS]!;
    const fair = CLIENTS / BUCKETS;
    const late = [...arrivals].map(([id, at]) => at - delays.get(id)!);
    late.sort((a, b) => a - b);
    console.log(
      `drain: ${CLIENTS} clients over ${WINDOW_MS} ms; arrivals at the new server per ${WINDOW_MS / BUCKETS} ms (fair share ${fair}):\n${render([...counts, afterWindow], WINDOW_MS)}\n` +
        `  drain() resolved after ${Math.round(drainMs)} ms; arrival minus own goaway delay: min ${Math.round(late[0]!)} ms, ` +
        `median ${Math.round(late[late.length >> 1]!)} ms, max ${Math.round(late.at(-1)!)} ms`,
    );

    // Every client got its own goaway, and the delays cover the window evenly.
    expect(delays.size).toBe(CLIENTS);
    expect(Math.max(...counts)).toBeLessThanOrEqual(2 * fair);
    expect(histogram([...delays.values()], WINDOW_MS, BUCKETS)).toEqual([...new Array<number>(BUCKETS).fill(fair), 0]);
    // Each honoured its delay (never early; the wheel and a busy loop may make it a little late).
    expect(late[0]!).toBeGreaterThanOrEqual(-2);
    // Reconnect latency after the delay is the loaded machine's, not the drain's: bounded loosely.
    expect(Math.max(...offsets)).toBeLessThan(WINDOW_MS + 8000);
    const text = await metrics.getSingleMetricAsString('vigil_goaways_total');
    expect(text).toContain(`vigil_goaways_total{reason="draining"} ${CLIENTS}`);
    expect(drainMs).toBeLessThan(WINDOW_MS + 500);
  },
  SOAK ? 120_000 : 60_000,
);

test('drain stops accepting, closes each live client with goaway then close 1001, and destroys at the deadline a client that never closes its side', async () => {
  const server = new VigilServer({ tcp: { port: 0 }, lingerMs: 5000 });
  teardown.add(() => server.close());
  const port = (await server.listen()).tcp!;
  // A client that never closes its side: its socket stays half-open after our FIN.
  const stubborn = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  teardown.add(() => stubborn.destroy());
  const received: Buffer[] = [];
  stubborn.on('data', (chunk: Buffer) => received.push(chunk));
  stubborn.on('error', () => undefined);
  stubborn.write(encodeFrame(encodeMessage({ type: MessageType.Hello, version: PROTOCOL_VERSION, clientId: 'stubborn', options: {} })));
  await until(() => server.peers.has('stubborn'), 'the handshake');
  const serverSide = server.peers.get('stubborn')!.connection.transport.closed.then(() => monotonicNow());
  const silent = await RawTcpPeer.connect(port);
  teardown.add(() => silent.destroy());

  const t0 = monotonicNow();
  await server.drain({ windowMs: 1000, deadlineMs: 300 });
  const took = monotonicNow() - t0;
  const endAt = await serverSide;
  expect(server.connectionCount).toBe(0);
  expect(took).toBeGreaterThanOrEqual(290);
  expect(took).toBeLessThan(1500);
  expect(endAt - t0).toBeGreaterThanOrEqual(290);
  expect(endAt - t0).toBeLessThan(1500);
  const tail = new FrameDecoder().push(Buffer.concat(received)).map((p) => decodeMessage(p)).slice(-2);
  expect(tail[0]).toMatchObject({ type: MessageType.GoAway, code: CloseCode.GoingAway, reason: 'server draining' });
  expect((tail[0] as { reconnectDelay: number }).reconnectDelay).toBeLessThan(1000);
  expect(tail[1]).toEqual({ type: MessageType.Close, code: CloseCode.GoingAway, reason: 'server draining' });
  // The connection still in its handshake got a plain close 1001.
  await silent.closed;
  expect(silent.messages()).toEqual([{ type: MessageType.Close, code: CloseCode.GoingAway, reason: 'server shutting down' }]);
  // Stopped accepting: the port is closed.
  await expect(RawTcpPeer.connect(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
});

test('spreadDelays: one delay per client, each in its own slot of the window, in a random order', () => {
  let seed = 7;
  const random = (): number => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
  const delays = spreadDelays(1000, 5000, random);
  expect(delays).toHaveLength(1000);
  expect(histogram(delays, 5000, 1000)).toEqual([...new Array<number>(1000).fill(1), 0]);
  expect(delays.every((d) => Number.isInteger(d) && d >= 0 && d < 5000)).toBe(true);
  // Not in slot order.
  expect(delays.slice(0, 10)).not.toEqual([...delays.slice(0, 10)].sort((a, b) => a - b));
  expect(spreadDelays(3, 0)).toEqual([0, 0, 0]);
});
