/**
 * A live fuzz run against both ports of one server: random and mutated input from many
 * concurrent hostile peers (garbage, truncated headers, huge declared lengths, frames of
 * invalid msgpack, wrong message types and frames before hello, mutated hellos, text and
 * oversize WebSocket messages, garbage HTTP on the WebSocket port). The server never
 * throws, each bad peer is closed with a reason, and two well-behaved clients exchanging
 * messages all along see no disruption. Seeded, so a failing case can be replayed; the
 * test prints how many cases it tried. `pnpm test:soak` runs ten times as many.
 */
import { connect, type Socket } from 'node:net';
import { VigilClient } from '@vigil/client';
import { CloseCode, FrameDecoder, MessageType, PROTOCOL_VERSION, decodeMessage, encodeFrame, encodeMessage, type Message } from '@vigil/protocol';
import { seededRandom } from '@vigil/core';
import { VigilServer } from '@vigil/server';
import { config as rxConfig } from 'rxjs';
import { RawTcpPeer, RawWsPeer, Teardown, until } from './support/loopback.js';

const SOAK = process.env['VIGIL_SOAK'] === '1';
const SCALE = SOAK ? 10 : 1;
const TCP_CASES = 800 * SCALE;
const WS_CASES = 500 * SCALE;
const HTTP_CASES = 100 * SCALE;
const CONCURRENCY = 40;
const MAX_FRAME_BYTES = 64 * 1024;
/** The server's handshake deadline, ms; it bounds the HTTP phase of a WebSocket upgrade too. */
const HANDSHAKE_MS = 300;
const SEED = Number(process.env['VIGIL_FUZZ_SEED'] ?? 20240611);

const teardown = new Teardown();
afterEach(() => teardown.run());

/**
 * MessagePack of any value, through the protocol's own encoder: a `data` message
 * `[5, 1, value]` is the bytes 0x93 0x05 0x01 followed by the value's encoding.
 */
function pack(value: unknown): Uint8Array {
  return encodeMessage({ type: MessageType.Data, seq: 1, body: value }).subarray(3);
}

/** Resolves with `promise`'s value, or `fallback` after `ms`; leaves no timer behind. */
function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<F>((r) => (timer = setTimeout(() => r(fallback), ms)))]).finally(() => clearTimeout(timer));
}

class Gen {
  constructor(readonly random: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.random() * xs.length)]!;
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(0, 255));
  }
  /** Up to `edits` byte edits: flips, overwrites, insertions, deletions, a truncation. */
  mutate(b: Uint8Array, edits: number): Uint8Array {
    let out = Uint8Array.from(b);
    for (let i = 0; i < edits && out.length > 0; i++) {
      const at = this.int(0, out.length - 1);
      switch (this.int(0, 4)) {
        case 0:
          out[at] = out[at]! ^ (1 << this.int(0, 7));
          break;
        case 1:
          out[at] = this.pick([0x00, 0x7f, 0x80, 0x90, 0xa0, 0xc0, 0xc1, 0xc4, 0xcb, 0xd4, 0xdc, 0xff]);
          break;
        case 2:
          out = Uint8Array.from([...out.subarray(0, at), this.int(0, 255), ...out.subarray(at)]);
          break;
        case 3:
          out = Uint8Array.from([...out.subarray(0, at), ...out.subarray(at + 1)]);
          break;
        default:
          out = out.subarray(0, at);
      }
    }
    return out;
  }
  value(depth = 0): unknown {
    switch (this.int(0, depth > 2 ? 4 : 6)) {
      case 0:
        return this.int(-1e6, 1e6);
      case 1:
        return this.random() * 1e12 - 5e11;
      case 2:
        return String.fromCharCode(...Array.from({ length: this.int(0, 20) }, () => this.int(32, 0x2fff)));
      case 3:
        return this.pick([null, true, false, Number.MAX_SAFE_INTEGER, -0]);
      case 4:
        return Buffer.from(this.bytes(this.int(0, 8)));
      case 5:
        return Array.from({ length: this.int(0, 5) }, () => this.value(depth + 1));
      default:
        return Object.fromEntries(Array.from({ length: this.int(0, 4) }, () => [this.pick(['interval', 'token', 'resume', 'session', 'ack', 'x']), this.value(depth + 1)]));
    }
  }
  hello(n: number): Message {
    return {
      type: MessageType.Hello,
      version: PROTOCOL_VERSION,
      clientId: `fuzz-${n}`,
      options: this.pick([{}, { interval: this.int(0, 100_000) }, { token: 'x'.repeat(this.int(0, 50)) }, { resume: { session: 'nope', ack: this.int(0, 9) } }]),
    };
  }
  /** A valid message that is not a hello: out of place before the handshake. */
  wrongType(): Message {
    return this.pick<Message>([
      { type: MessageType.Welcome, version: 1, sessionId: 's', peerId: 'p', interval: 1, timeout: 2, serverTime: 3, options: {} },
      { type: MessageType.Ping, seq: this.int(0, 9), ts: 5 },
      { type: MessageType.Pong, seq: 1, echoTs: 1, time: 1 },
      { type: MessageType.Data, seq: 1, body: 'early' },
      { type: MessageType.Ack, ack: this.int(0, 9) },
      { type: MessageType.GoAway, code: 1001, reconnectDelay: 1, reason: '' },
      { type: MessageType.Status, visibility: 'hidden' },
    ]);
  }
  /** A payload (no frame header) of one hostile kind; `kind` names it. */
  payload(n: number): { kind: string; payload: Uint8Array } {
    switch (this.int(0, 7)) {
      case 0:
        return { kind: 'bad-msgpack', payload: this.bytes(this.int(1, 200)) };
      case 1:
        return { kind: 'wrong-type', payload: encodeMessage(this.wrongType()) };
      case 2:
        return { kind: 'mutated-hello', payload: this.mutate(encodeMessage(this.hello(n)), this.int(1, 4)) };
      case 3:
        return { kind: 'non-array', payload: pack(this.value()) };
      case 4:
        return { kind: 'random-fields', payload: pack([this.int(0, 12), ...Array.from({ length: this.int(0, 8) }, () => this.value())]) };
      case 5:
        return { kind: 'empty', payload: new Uint8Array(0) };
      case 6:
        return { kind: 'mutated-message', payload: this.mutate(encodeMessage(this.wrongType()), this.int(1, 3)) };
      default:
        return { kind: 'truncated-message', payload: encodeMessage(this.hello(n)).subarray(0, this.int(1, 8)) };
    }
  }
}

type Outcome = { kind: string; ok: boolean; code: number | string; detail: string };

/**
 * Whether the server, reading these payloads in order, ends on the peer's own valid
 * `close`: then it closes its side in silence (protocol §8.1), which is right, so no
 * reason is owed. Random input builds a valid `close` now and then.
 */
function endsWithPeerClose(payloads: readonly Uint8Array[]): boolean {
  let handshaken = false;
  for (const payload of payloads) {
    let m: Message;
    try {
      m = decodeMessage(payload);
    } catch {
      return false;
    }
    if (m.type === MessageType.Close) return true;
    if (m.type === MessageType.Hello && !handshaken && m.version === PROTOCOL_VERSION) handshaken = true;
    else if (!handshaken || m.type === MessageType.Hello || m.type === MessageType.Welcome) return false;
  }
  return false;
}

function framesOf(bytes: Uint8Array): Uint8Array[] {
  try {
    return new FrameDecoder(MAX_FRAME_BYTES).push(bytes);
  } catch {
    return [];
  }
}

/** One TCP case: write hostile bytes, wait for the server to end it, read why from the frames it sent. */
async function tcpCase(port: number, g: Gen, n: number): Promise<Outcome> {
  let kind: string;
  let bytes: Uint8Array;
  switch (g.int(0, 7)) {
    case 0:
      kind = 'garbage';
      bytes = g.bytes(g.int(1, 300));
      break;
    case 1:
      kind = 'short-header';
      bytes = g.bytes(g.int(1, 3));
      break;
    case 2: {
      kind = 'huge-length';
      const length = g.int(MAX_FRAME_BYTES + 1, 2 ** 32 - 1);
      bytes = Uint8Array.of(length >>> 24, (length >>> 16) & 255, (length >>> 8) & 255, length & 255, ...g.bytes(g.int(0, 16)));
      break;
    }
    case 3: {
      kind = 'partial-payload';
      const length = g.int(2, 1000);
      bytes = Uint8Array.of(length >>> 24, (length >>> 16) & 255, (length >>> 8) & 255, length & 255, ...g.bytes(g.int(0, length - 1)));
      break;
    }
    case 4: {
      kind = 'hello-then-junk';
      const junk = g.payload(n);
      bytes = Uint8Array.from([...encodeFrame(encodeMessage(g.hello(n))), ...encodeFrame(junk.payload)]);
      break;
    }
    case 5: {
      kind = 'burst';
      const frames = Array.from({ length: g.int(2, 5) }, () => [...encodeFrame(g.payload(n).payload)]);
      bytes = Uint8Array.from(frames.flat());
      break;
    }
    default: {
      const p = g.payload(n);
      kind = p.kind;
      bytes = encodeFrame(p.payload);
    }
  }
  const raw = await RawTcpPeer.connect(port);
  raw.write(bytes);
  const ended = await within(raw.closed.then(() => true), 5000, false);
  raw.destroy();
  const got = raw.messages();
  const last = got.at(-1);
  const ok = ended && ((last?.type === MessageType.Close && last.reason.length > 0) || endsWithPeerClose(framesOf(bytes)));
  return { kind: `tcp:${kind}`, ok, code: last?.type === MessageType.Close ? last.code : 'none', detail: `${ended ? '' : 'not closed in 5 s; '}sent ${Buffer.from(bytes.subarray(0, 64)).toString('hex')}; got ${JSON.stringify(got.slice(-3))}` };
}

/** One WebSocket case: a hostile message, then the server's close (a Vigil close message, or a close frame code). */
async function wsCase(port: number, g: Gen, n: number): Promise<Outcome> {
  const startedAt = performance.now();
  let raw: RawWsPeer;
  try {
    raw = await RawWsPeer.connect(port);
  } catch (error) {
    // This run saturates the loop: now and then the upgrade request is not read before the
    // handshake deadline, and the server drops the socket, as it must. Earlier would be a bug.
    const afterMs = performance.now() - startedAt;
    return { kind: 'ws:upgrade-dropped', ok: afterMs >= HANDSHAKE_MS, code: 'dropped', detail: `${(error as Error).message} ${afterMs.toFixed(0)} ms after connecting` };
  }
  let kind: string;
  const sent: Uint8Array[] = [];
  switch (g.int(0, 4)) {
    case 0:
      kind = 'text';
      raw.ws.send(String.fromCharCode(...g.bytes(g.int(0, 100))));
      break;
    case 1:
      kind = 'oversize';
      raw.ws.send(g.bytes(MAX_FRAME_BYTES + g.int(1, 1000)), { binary: true });
      break;
    case 2:
      kind = 'hello-then-junk';
      sent.push(encodeMessage(g.hello(n)), g.payload(n).payload);
      for (const p of sent) raw.ws.send(p, { binary: true });
      break;
    default: {
      const p = g.payload(n);
      kind = p.kind;
      sent.push(p.payload);
      raw.ws.send(p.payload, { binary: true });
    }
  }
  const end = await within(raw.closed, 5000, null);
  raw.destroy();
  const last = raw.received.at(-1);
  const vigilClose = last?.type === MessageType.Close && last.reason.length > 0;
  // ws itself refuses an oversize message with a 1009 close frame before Vigil sees it.
  const frameClose = end !== null && end.code === CloseCode.FrameTooLarge;
  return {
    kind: `ws:${kind}`,
    ok: end !== null && (vigilClose || frameClose || endsWithPeerClose(sent)),
    code: last?.type === MessageType.Close ? last.code : end?.code ?? 'none',
    detail: `${end === null ? 'not closed in 5 s; ' : ''}${JSON.stringify({ received: raw.received.slice(-3), code: end?.code, reason: end?.reason })}`,
  };
}

/** Garbage where the WebSocket port expects an HTTP upgrade: answered 400 or dropped at the handshake deadline. */
async function httpCase(port: number, g: Gen): Promise<Outcome> {
  const socket: Socket = connect({ host: '127.0.0.1', port });
  let reply = '';
  socket.on('data', (d: Buffer) => (reply += d.toString('latin1')));
  socket.on('error', () => undefined);
  await new Promise((r) => socket.once('connect', r));
  const kind = g.pick(['garbage', 'half-request', 'bad-upgrade']);
  if (kind === 'garbage') socket.write(g.bytes(g.int(1, 200)));
  else if (kind === 'half-request') socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
  else socket.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: nope\r\nSec-WebSocket-Version: 13\r\n\r\n');
  const closed = await within(new Promise<true>((r) => socket.once('close', () => r(true))), 5000, false);
  socket.destroy();
  const status = /^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1];
  return { kind: `http:${kind}`, ok: closed, code: status ?? 'dropped', detail: reply.split('\r\n')[0] ?? '' };
}

/** A well-behaved client that echoes a counter with the server for the whole run. */
class Steady {
  readonly states: string[] = [];
  echoes = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(readonly client: VigilClient<{ n: number }, { n: number }>) {
    client.status$.subscribe((s) => this.states.push(s.cause === null ? s.state : `${s.state}:${s.cause}`));
    client.messages$.subscribe((m) => {
      this.echoes++;
      if (!this.stopped) this.timer = setTimeout(() => client.send({ n: m.n + 1 }), 2);
    });
    client.send({ n: 1 });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

test(
  `live fuzz: ${TCP_CASES + WS_CASES + HTTP_CASES} hostile peers on both ports; each closed with a reason, the server unharmed, steady clients undisturbed`,
  async () => {
    const unhandled: unknown[] = [];
    rxConfig.onUnhandledError = (error) => unhandled.push(error);
    const onRejection = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onRejection);
    teardown.add(() => {
      rxConfig.onUnhandledError = null;
      process.off('unhandledRejection', onRejection);
    });

    const server = new VigilServer<{ n: number }, { n: number }>({
      tcp: { port: 0 },
      ws: { port: 0 },
      heartbeat: { intervalMs: 100, timeoutMs: 400, handshakeTimeoutMs: HANDSHAKE_MS, maxIntervalMs: 200 },
      maxFrameBytes: MAX_FRAME_BYTES,
      resume: { windowMs: 300 },
      hiddenTimeoutMs: 0,
      // This run saturates the event loop on purpose, with the stall guard on (the default): it
      // credits the late ticks, but at most one timeout per silence and one last re-probe past
      // that, so silent fuzzers still die within timeout + cap + one grace (docs/detectors.md).
      connectionRate: false,
      lingerMs: 200,
    });
    teardown.add(() => server.close());
    const ports = await server.listen();
    server.messages$.subscribe(({ peer, message }) => {
      if (peer.id.startsWith('steady-')) peer.send(message);
    });
    const steadies: Steady[] = [];
    for (const kind of ['tcp', 'ws'] as const) {
      const client = new VigilClient<{ n: number }, { n: number }>(`${kind}://127.0.0.1:${ports[kind]!}`, { id: `steady-${kind}`, intervalMs: 200 });
      teardown.add(() => client.close());
      await client.connect();
      const steady = new Steady(client);
      teardown.add(() => steady.stop());
      steadies.push(steady);
    }

    const g = new Gen(seededRandom(SEED));
    const jobs: (() => Promise<Outcome>)[] = [];
    for (let i = 0; i < TCP_CASES; i++) jobs.push(() => tcpCase(ports.tcp!, new Gen(seededRandom(g.int(0, 2 ** 31))), i));
    for (let i = 0; i < WS_CASES; i++) jobs.push(() => wsCase(ports.ws!, new Gen(seededRandom(g.int(0, 2 ** 31))), TCP_CASES + i));
    for (let i = 0; i < HTTP_CASES; i++) jobs.push(() => httpCase(ports.ws!, new Gen(seededRandom(g.int(0, 2 ** 31)))));
    // Interleave the kinds so both ports are under fire at once.
    jobs.sort(() => g.random() - 0.5);

    const outcomes: Outcome[] = [];
    const echoesBefore = steadies.map((s) => s.echoes);
    const startedAt = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < jobs.length) outcomes.push(await jobs[next++]!());
      }),
    );
    const seconds = (performance.now() - startedAt) / 1000;

    const byKind = new Map<string, number>();
    const byCode = new Map<string, number>();
    for (const o of outcomes) {
      byKind.set(o.kind, (byKind.get(o.kind) ?? 0) + 1);
      byCode.set(String(o.code), (byCode.get(String(o.code)) ?? 0) + 1);
    }
    const failed = outcomes.filter((o) => !o.ok);
    console.log(
      `live fuzz (seed ${SEED}): ${outcomes.length} cases tried in ${seconds.toFixed(1)} s; ended as the protocol requires: ${outcomes.length - failed.length} ` +
        `(a close with its reason; an HTTP 400 or the deadline on the upgrade port; silence after their own valid close: "none" below)\n` +
        `  by kind: ${JSON.stringify(Object.fromEntries([...byKind].sort()))}\n` +
        `  by close code: ${JSON.stringify(Object.fromEntries([...byCode].sort()))}\n` +
        `  steady clients exchanged ${steadies.map((s, i) => s.echoes - echoesBefore[i]!).join(' and ')} messages meanwhile`,
    );

    expect(outcomes).toHaveLength(TCP_CASES + WS_CASES + HTTP_CASES);
    expect(failed.slice(0, 5)).toEqual([]);
    // The well-behaved clients never left `alive` and kept talking.
    for (const [i, s] of steadies.entries()) {
      expect(s.states).toEqual(['alive']);
      expect(s.echoes - echoesBefore[i]!).toBeGreaterThan(10);
    }
    // The server holds nothing of the fuzzers once their sessions have expired.
    await until(() => server.connectionCount === 2 && server.peers.size === 2, 'only the steady clients left', 5000);
    expect(unhandled).toEqual([]);
  },
  SOAK ? 900_000 : 120_000,
);
