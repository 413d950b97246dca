/**
 * Property fuzzing of the server's handshake state machine: the real `VigilServer` (with
 * an authenticate hook and resume on) is handed in-memory transports in virtual time,
 * and fast-check throws arbitrary sequences at it: every message type before and after
 * hello, hellos of any version, token and resume request (known, unknown or lying
 * sessions), garbage payloads, transports ending, time passing. Whatever the sequence,
 * nothing throws, the server sends nothing before `welcome` but a `close`, every close
 * it sends carries a known code and a reason, nothing follows a close, and once time
 * runs out every connection, session and timer is gone.
 */
import type { Cause, Transport, TransportEnd } from '@vigil/core';
import { CloseCode, MessageType, decodeMessage, encodeMessage, type Message } from '@vigil/protocol';
import { VigilServer, type Authenticate } from '@vigil/server';
import fc from 'fast-check';
import { Subject, VirtualTimeScheduler, config as rxConfig } from 'rxjs';

const SOAK = process.env['VIGIL_SOAK'] === '1';
const KNOWN_CODES: ReadonlySet<number> = new Set(Object.values(CloseCode));

class MemoryTransport implements Transport {
  readonly kind = 'tcp' as const;
  readonly frames: Subject<Uint8Array> = new Subject();
  readonly closed: Promise<TransportEnd>;
  readonly bufferedBytes = 0;
  readonly sent: Message[] = [];
  ended = false;
  private resolve!: (end: TransportEnd) => void;

  constructor(readonly remote: string) {
    this.closed = new Promise((r) => (this.resolve = r));
  }

  send(payload: Uint8Array): boolean {
    if (this.ended) return false;
    this.sent.push(decodeMessage(payload));
    return true;
  }

  close(): void {
    this.end({ cause: 'local-close' });
  }

  destroy(cause: Cause = 'local-close'): void {
    this.end({ cause });
  }

  end(end: TransportEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.frames.complete();
    this.resolve(end);
  }
}

const ids = fc.constantFrom('', 'a', 'b', 'c');
const tokens = fc.constantFrom(undefined, 'good', 'bad', 'slow', 'throws');
const hello = fc
  .record({
    version: fc.constantFrom(1, 1, 1, 2, 0),
    clientId: ids,
    token: tokens,
    interval: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }),
    resume: fc.option(fc.record({ session: fc.oneof(fc.constant(''), fc.constant('known'), fc.string({ maxLength: 8 })), ack: fc.nat({ max: 20 }) }), { nil: undefined }),
  })
  .map(({ version, clientId, ...o }) => ({ type: MessageType.Hello, version, clientId, options: Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) }));
const other = fc.oneof(
  fc.record({ seq: fc.nat({ max: 5 }), ts: fc.nat(), ack: fc.option(fc.nat({ max: 10 }), { nil: undefined }) }).map((m) => ({ type: MessageType.Ping, ...(m.ack === undefined ? { seq: m.seq, ts: m.ts } : m) })),
  fc.record({ seq: fc.nat({ max: 5 }), echoTs: fc.nat(), time: fc.nat() }).map((m) => ({ type: MessageType.Pong, ...m })),
  fc.record({ seq: fc.nat({ max: 4 }), body: fc.string({ maxLength: 4 }) }).map((m) => ({ type: MessageType.Data, ...m })),
  fc.nat({ max: 6 }).map((ack) => ({ type: MessageType.Ack, ack })),
  fc.record({ code: fc.constantFrom(1000, 1001, 4001, 4242), reason: fc.string({ maxLength: 8 }) }).map((m) => ({ type: MessageType.Close, ...m })),
  fc.constant({ type: MessageType.GoAway, code: 1001, reconnectDelay: 5, reason: '' }),
  fc.constant({ type: MessageType.Status, visibility: 'hidden' }),
  fc.constant({ type: MessageType.Welcome, version: 1, sessionId: 's', peerId: 'p', interval: 1, timeout: 2, serverTime: 0, options: {} }),
);
const command = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('hello' as const), conn: fc.nat({ max: 3 }), m: hello }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('send' as const), conn: fc.nat({ max: 3 }), m: other }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('garbage' as const), conn: fc.nat({ max: 3 }), bytes: fc.uint8Array({ maxLength: 12 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('end' as const), conn: fc.nat({ max: 3 }), cause: fc.constantFrom<Cause>('reset', 'closed-by-peer', 'transport-error') }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.constantFrom(10, 100, 1000, 2500) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('open' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('app-send' as const), id: ids }) },
);

/** Sync, async, slow and throwing answers, like real hooks. */
const authenticate: Authenticate = (h) => {
  switch (h.options.token) {
    case 'good':
      return { ok: true };
    case 'slow':
      return new Promise((r) => setImmediate(() => r({ ok: true })));
    case 'throws':
      throw new Error('backend down');
    case 'bad':
      return Promise.resolve({ ok: false, reason: 'bad token' });
    default:
      return Promise.resolve({ ok: true });
  }
};

/** Lets promise callbacks (async hooks, transport ends) run: two turns of the event loop. */
const flush = async (): Promise<void> => {
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
};

let cases = 0;
let messagesThrown = 0;
afterAll(() => console.log(`handshake fuzz: ${cases} sequences, ${messagesThrown} inputs`));

test('any sequence of inputs ends in clean closes with reasons, never a throw, and leaves nothing behind', async () => {
  const unhandled: unknown[] = [];
  rxConfig.onUnhandledError = (error) => unhandled.push(error);
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 25 }), async (commands) => {
        cases++;
        const scheduler = new VirtualTimeScheduler();
        const advance = (ms: number): void => {
          const target = scheduler.frame + ms;
          scheduler.maxFrames = target;
          scheduler.flush();
          scheduler.frame = target;
        };
        const server = new VigilServer<string, string>({
          tcp: { port: 0 },
          scheduler,
          stallGuard: false,
          heartbeat: { intervalMs: 1000, timeoutMs: 3000, handshakeTimeoutMs: 5000, maxIntervalMs: 2000 },
          resume: { windowMs: 2000, maxMessages: 4 },
          // A `status: hidden` stretches the timeout to this (background mode), still within the final wait.
          hiddenTimeoutMs: 4000,
          authenticate,
          authTimeoutMs: 500,
          minPingIntervalMs: 100,
          maxPingStrikes: 1,
          connectionRate: { perSecond: 5, burst: 6 },
          maxConnections: 5,
        });
        const transports: MemoryTransport[] = [];
        const open = (): void => {
          const t = new MemoryTransport(`10.0.0.1:${1000 + transports.length}`);
          transports.push(t);
          (server as unknown as { accept(t: Transport): void }).accept(t);
        };
        open();
        for (const c of commands) {
          messagesThrown++;
          switch (c.op) {
            case 'open':
              open();
              break;
            case 'hello': {
              const t = transports[c.conn % transports.length]!;
              const resume = (c.m.options as { resume?: { session: string; ack: number } }).resume;
              // 'known' stands for a session the server actually holds, when there is one.
              const known = [...server.peers.values()][0]?.sessionId;
              const m = resume?.session === 'known' ? { ...c.m, options: { ...c.m.options, resume: { ...resume, session: known ?? 'none' } } } : c.m;
              if (!t.ended) t.frames.next(encodeMessage(m as Message));
              break;
            }
            case 'send': {
              const t = transports[c.conn % transports.length]!;
              if (!t.ended) t.frames.next(encodeMessage(c.m as Message));
              break;
            }
            case 'garbage': {
              const t = transports[c.conn % transports.length]!;
              if (!t.ended) t.frames.next(c.bytes);
              break;
            }
            case 'end':
              transports[c.conn % transports.length]!.end({ cause: c.cause });
              break;
            case 'advance':
              advance(c.ms);
              break;
            case 'app-send':
              server.peers.get(c.id)?.send('x');
              break;
          }
          await flush();
        }
        // Let every deadline pass: handshake (5 s), heartbeat (at most 6 s), resume window (2 s).
        for (let i = 0; i < 16; i++) {
          advance(1000);
          await flush();
        }

        for (const t of transports) {
          const firstWelcome = t.sent.findIndex((m) => m.type === MessageType.Welcome);
          const beforeWelcome = firstWelcome < 0 ? t.sent : t.sent.slice(0, firstWelcome);
          expect(beforeWelcome.every((m) => m.type === MessageType.Close)).toBe(true);
          const closeAt = t.sent.findIndex((m) => m.type === MessageType.Close);
          if (closeAt >= 0) {
            const close = t.sent[closeAt] as Extract<Message, { type: 7 }>;
            expect(KNOWN_CODES.has(close.code)).toBe(true);
            expect(close.reason.length).toBeGreaterThan(0);
            expect(t.sent.slice(closeAt + 1)).toEqual([]);
          }
          // Every connection has ended, and any the server ended itself was told why.
          expect(t.ended).toBe(true);
        }
        expect(server.connectionCount).toBe(0);
        expect(server.peers.size).toBe(0);
        expect(server.engine.wheel.size).toBe(0);
        expect(unhandled).toEqual([]);
      }),
      { numRuns: SOAK ? 20_000 : 1000 },
    );
  } finally {
    rxConfig.onUnhandledError = null;
  }
}, 120_000);
