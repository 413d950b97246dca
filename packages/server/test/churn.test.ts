/**
 * Churn: many connect / handshake / disconnect cycles against a server in its own
 * process (so its heap is its own, measured after forced GC). Cycles mix TCP and
 * WebSocket, orderly closes, abrupt drops after the welcome (which detach a resumable
 * session until its window expires) and drops mid-handshake. After vs before (after a
 * warm-up): heap within 5%, timers on the wheel, open descriptors and active handles
 * back to the baseline. Quick form 5,000 cycles; `pnpm test:soak`: 100,000.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { FrameDecoder, MessageType, PROTOCOL_VERSION, WS_SUBPROTOCOL, decodeMessage, encodeFrame, encodeMessage } from '@vigil/protocol';
import WebSocket from 'ws';
import { REPO_ROOT, Teardown, until } from './support/loopback.js';

const SOAK = process.env['VIGIL_SOAK'] === '1';
const CYCLES = SOAK ? 100_000 : 5_000;
// The heap settles (JIT code, inline caches, table capacities, the bounded event log) within the first few thousand cycles.
const WARMUP = SOAK ? 10_000 : 5_000;
const CONCURRENCY = 32;
const IDS = 64;

const teardown = new Teardown();
afterEach(() => teardown.run());

interface Measure {
  readonly heapUsed: number;
  readonly rss: number;
  readonly wheel: number;
  readonly fds: number;
  readonly handles: number;
  readonly timeouts: number;
  readonly connections: number;
  readonly peers: number;
  readonly accepted: number;
}

class ChurnServer {
  private waiting: ((m: Measure) => void) | null = null;

  private constructor(
    readonly child: ChildProcess,
    readonly tcp: number,
    readonly ws: number,
  ) {
    child.on('message', (m: { event: string } & Measure) => {
      if (m.event === 'measure') this.waiting?.(m);
    });
  }

  static start(): Promise<ChurnServer> {
    const child = fork(resolve(__dirname, 'fixtures/churn-server.ts'), [], {
      cwd: REPO_ROOT,
      execArgv: ['--expose-gc', '--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    teardown.add(async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    return new Promise((ok, fail) => {
      child.once('exit', (code) => fail(new Error(`churn server exited (${String(code)}): ${stderr}`)));
      child.once('message', (m: { event: string; tcp: number; ws: number }) => ok(new ChurnServer(child, m.tcp, m.ws)));
    });
  }

  measure(): Promise<Measure> {
    return new Promise((ok) => {
      this.waiting = ok;
      this.child.send({ cmd: 'measure' });
    });
  }
}

type Ending = 'close' | 'drop' | 'vanish';

/** One TCP cycle: connect, hello, welcome, then an orderly close, a drop, or (vanish) a drop before hello. */
function tcpCycle(port: number, id: string, ending: Ending): Promise<void> {
  return new Promise((done, fail) => {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    const decoder = new FrameDecoder();
    socket.on('error', () => undefined);
    socket.once('close', () => done());
    socket.once('connect', () => {
      if (ending === 'vanish') {
        socket.destroy();
        return;
      }
      socket.write(encodeFrame(encodeMessage({ type: MessageType.Hello, version: PROTOCOL_VERSION, clientId: id, options: {} })));
    });
    socket.on('data', (chunk: Buffer) => {
      for (const payload of decoder.push(chunk)) {
        const m = decodeMessage(payload);
        if (m.type !== MessageType.Welcome) continue;
        if (ending === 'drop') socket.destroy();
        else socket.end(encodeFrame(encodeMessage({ type: MessageType.Close, code: 1000, reason: 'bye' })));
        return;
      }
    });
    setTimeout(() => fail(new Error(`tcp cycle ${id} stuck`)), 10_000).unref();
  });
}

/** One WebSocket cycle, the same three ways. */
function wsCycle(port: number, id: string, ending: Ending): Promise<void> {
  return new Promise((done, fail) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, WS_SUBPROTOCOL);
    ws.on('error', () => undefined);
    ws.once('close', () => done());
    ws.once('open', () => {
      if (ending === 'vanish') ws.terminate();
      else ws.send(encodeMessage({ type: MessageType.Hello, version: PROTOCOL_VERSION, clientId: id, options: {} }));
    });
    ws.on('message', (data: Buffer) => {
      if (decodeMessage(data).type !== MessageType.Welcome) return;
      if (ending === 'drop') ws.terminate();
      else {
        ws.send(encodeMessage({ type: MessageType.Close, code: 1000, reason: 'bye' }));
        ws.close(1000);
      }
    });
    setTimeout(() => fail(new Error(`ws cycle ${id} stuck`)), 10_000).unref();
  });
}

async function churn(server: ChurnServer, cycles: number, offset: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < cycles) {
        const i = offset + next++;
        const ending: Ending = i % 10 < 7 ? 'close' : i % 10 < 9 ? 'drop' : 'vanish';
        const id = `churn-${i % IDS}-${i % 2}`;
        await (i % 2 === 0 ? tcpCycle(server.tcp, id, ending) : wsCycle(server.ws, id, ending));
      }
    }),
  );
}

/** Until every connection and held session is gone on the server. */
async function settled(server: ChurnServer): Promise<Measure> {
  let m = await server.measure();
  const deadline = performance.now() + 10_000;
  while ((m.connections > 0 || m.peers > 0) && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    m = await server.measure();
  }
  return m;
}

test(
  `${CYCLES} connect/handshake/disconnect cycles: heap within 5%, no leaked timers, descriptors or handles`,
  async () => {
    const server = await ChurnServer.start();
    await churn(server, WARMUP, 0);
    const before = await settled(server);
    const startedAt = performance.now();
    await churn(server, CYCLES, WARMUP);
    const seconds = (performance.now() - startedAt) / 1000;
    const after = await settled(server);
    const delta = (after.heapUsed - before.heapUsed) / before.heapUsed;
    const mb = (n: number): string => (n / 1024 / 1024).toFixed(2);
    console.log(
      `churn: ${CYCLES} cycles in ${seconds.toFixed(1)} s (${Math.round(CYCLES / seconds)}/s; TCP and WebSocket; 70% orderly, 20% dropped after welcome, 10% dropped mid-handshake)\n` +
        `  server heap after GC ${mb(before.heapUsed)} MB -> ${mb(after.heapUsed)} MB (${(delta * 100).toFixed(2)}%), rss ${mb(before.rss)} -> ${mb(after.rss)} MB\n` +
        `  wheel timers ${before.wheel} -> ${after.wheel}, descriptors ${before.fds} -> ${after.fds}, handles ${before.handles} -> ${after.handles}, timeouts ${before.timeouts} -> ${after.timeouts}`,
    );
    expect(after.accepted - before.accepted).toBe(CYCLES);
    expect({ connections: after.connections, peers: after.peers }).toEqual({ connections: 0, peers: 0 });
    expect(Math.abs(delta)).toBeLessThan(0.05);
    expect(after.wheel).toBe(before.wheel);
    expect(after.fds).toBe(before.fds);
    expect(after.handles).toBe(before.handles);
    expect(after.timeouts).toBe(before.timeouts);
  },
  SOAK ? 900_000 : 120_000,
);

test('the churn server really is measured: it counts what it accepted', async () => {
  const server = await ChurnServer.start();
  await churn(server, 20, 0);
  await until(() => true, 'noop');
  const m = await settled(server);
  expect(m.accepted).toBe(20);
});
