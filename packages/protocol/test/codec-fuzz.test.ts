/**
 * Property fuzzing of the decoder beyond `codec.test.ts`: valid messages mutated (bit
 * flips, truncations, insertions, splices of two messages) decode or fail with a
 * ProtocolError, never anything else; every valid message, resume and limit options
 * included, round-trips; and the frame decoder, fed hostile streams in any chunking,
 * returns payloads or a FrameTooLarge error, never buffering more than one frame.
 */
import fc from 'fast-check';
import { decodeMessage, encodeMessage } from '../src/codec.js';
import { CloseCode, DEFAULT_MAX_FRAME_BYTES, MessageType, Visibility } from '../src/constants.js';
import { ErrorCode, ProtocolError } from '../src/errors.js';
import { FrameDecoder, encodeFrame } from '../src/frame-decoder.js';
import type { Message } from '../src/messages.js';

let cases = 0;
afterAll(() => console.log(`codec fuzz: ${cases} cases tried`));

const uint = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const num = fc.double({ noNaN: true, noDefaultInfinity: true }).filter((t) => !Object.is(t, -0));
const id = fc.string({ maxLength: 40 });
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });

function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Any valid message of protocol v1 (as the codec produces them), with every option key. */
/** `v` with every undefined inside an array or map value made null, as a re-encode makes it. */
function nilForUndefined<T>(v: T): T {
  if (Array.isArray(v)) return v.map((x) => (x === undefined ? null : nilForUndefined(x))) as T;
  if (v !== null && typeof v === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(v))) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x === undefined ? null : nilForUndefined(x)])) as T;
  }
  return v;
}

const validMessage: fc.Arbitrary<Message> = fc.oneof(
  fc
    .record({ version: uint, clientId: id, interval: opt(uint), token: opt(fc.string({ maxLength: 64 })), resume: opt(fc.record({ session: id, ack: uint })) })
    .map(({ version, clientId, ...o }) => ({ type: MessageType.Hello, version, clientId, options: defined(o) })),
  fc
    .record({
      version: uint,
      sessionId: id,
      peerId: id,
      interval: uint,
      timeout: uint,
      serverTime: num,
      resumed: opt(fc.boolean()),
      ack: opt(uint),
      minPingInterval: opt(uint),
      resumeWindow: opt(uint),
    })
    .map(({ version, sessionId, peerId, interval, timeout, serverTime, ...o }) => ({ type: MessageType.Welcome, version, sessionId, peerId, interval, timeout, serverTime, options: defined(o) })),
  fc.record({ seq: uint, ts: num, ack: opt(uint), rtt: opt(num) }).map((m) => defined({ type: MessageType.Ping, ...m })),
  fc.record({ seq: uint, echoTs: num, time: num, ack: opt(uint) }).map((m) => defined({ type: MessageType.Pong, ...m })),
  fc.record({ seq: uint, body: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(fc.integer(), { maxLength: 4 })), ack: opt(uint) }).map((m) => defined({ type: MessageType.Data, ...m })),
  uint.map((ack) => ({ type: MessageType.Ack, ack })),
  fc.record({ code: uint, reason: fc.string({ maxLength: 64 }) }).map((m) => ({ type: MessageType.Close, ...m })),
  fc.record({ code: uint, reconnectDelay: uint, reason: fc.string({ maxLength: 64 }) }).map((m) => ({ type: MessageType.GoAway, ...m })),
  fc.constantFrom(...Object.values(Visibility)).map((visibility) => ({ type: MessageType.Status, visibility })),
) as fc.Arbitrary<Message>;

function decodesOrRejects(payload: Uint8Array): void {
  cases++;
  try {
    decodeMessage(payload);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    expect([ErrorCode.MalformedMessage, ErrorCode.UnknownMessageType]).toContain(error.code);
    expect(error.closeCode).toBe(CloseCode.ProtocolError);
  }
}

/** One edit to a byte string: flip a bit, truncate, insert, delete, or overwrite a byte. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(0x00, 0x7f, 0x80, 0x90, 0xa0, 0xc0, 0xc1, 0xc4, 0xcb, 0xd4, 0xdc, 0xdf, 0xff) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(bytes: Uint8Array, edits: readonly Mutation[]): Uint8Array {
  let b = Uint8Array.from(bytes);
  for (const e of edits) {
    if (b.length === 0) break;
    const at = e.at % b.length;
    switch (e.kind) {
      case 'flip':
        b[at] = b[at]! ^ (1 << e.bit);
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'insert':
        b = Uint8Array.from([...b.subarray(0, at), e.byte, ...b.subarray(at)]);
        break;
      case 'delete':
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1)]);
        break;
      case 'set':
        b[at] = e.byte;
        break;
    }
  }
  return b;
}

describe('decodeMessage under mutation', () => {
  it('every valid message round-trips, resume and limit options included', () => {
    fc.assert(
      fc.property(validMessage, (m) => {
        cases++;
        expect(decodeMessage(encodeMessage(m))).toEqual(m);
      }),
      { numRuns: 3000 },
    );
  });

  it('a valid message with up to 4 random edits decodes or fails with a ProtocolError', () => {
    fc.assert(
      fc.property(validMessage, fc.array(mutation, { minLength: 1, maxLength: 4 }), (m, edits) => decodesOrRejects(mutate(encodeMessage(m), edits))),
      { numRuns: 10_000 },
    );
  });

  it('two valid messages spliced at random points decode or fail with a ProtocolError', () => {
    fc.assert(
      fc.property(validMessage, validMessage, fc.nat(), fc.nat(), (a, b, i, j) => {
        const x = encodeMessage(a);
        const y = encodeMessage(b);
        decodesOrRejects(Uint8Array.from([...x.subarray(0, i % (x.length + 1)), ...y.subarray(j % (y.length + 1))]));
      }),
      { numRuns: 5000 },
    );
  });

  it('what decodes after mutation is a valid message again: it re-encodes and decodes to itself', () => {
    fc.assert(
      fc.property(validMessage, fc.array(mutation, { minLength: 1, maxLength: 3 }), (m, edits) => {
        cases++;
        let decoded: Message;
        try {
          decoded = decodeMessage(mutate(encodeMessage(m), edits));
        } catch {
          return;
        }
        // A mutation can forge msgpackr's fixext 0 in a body (an extension no sender may
        // use, docs/protocol.md §3): read as undefined, it re-encodes as nil.
        const expected = decoded.type === MessageType.Data ? { ...decoded, body: decoded.body === undefined ? null : nilForUndefined(decoded.body) } : decoded;
        expect(decodeMessage(encodeMessage(decoded))).toEqual(expected);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('FrameDecoder under hostile streams', () => {
  const MAX = 4096;
  /** A stream of frames, some honest, some with lying headers, some truncated, in arbitrary chunks. */
  const frame = fc.oneof(
    fc.uint8Array({ maxLength: 64 }).map((p) => encodeFrame(p)),
    fc.integer({ min: MAX + 1, max: 2 ** 32 - 1 }).map((n) => Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255)),
    fc.uint8Array({ minLength: 1, maxLength: 3 }),
    fc.uint8Array({ maxLength: 32 }),
  );

  it('returns whole payloads or throws FrameTooLarge (1009), in any chunking, and never holds more than one frame', () => {
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }), (frames, cuts) => {
        cases++;
        const stream = Uint8Array.from(frames.flatMap((f) => [...f]));
        const decoder = new FrameDecoder(MAX);
        let at = 0;
        let i = 0;
        try {
          while (at < stream.length) {
            const end = Math.min(stream.length, at + cuts[i++ % cuts.length]!);
            for (const p of decoder.push(stream.subarray(at, end))) expect(p.length).toBeLessThanOrEqual(MAX);
            expect(decoder.bufferedBytes).toBeLessThanOrEqual(MAX + 4 + 64);
            at = end;
          }
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
          expect((error as ProtocolError).code).toBe(ErrorCode.FrameTooLarge);
          expect((error as ProtocolError).closeCode).toBe(CloseCode.FrameTooLarge);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('with the default limit, a declared length of up to 4 GiB is refused from its 4 header bytes alone', () => {
    fc.assert(
      fc.property(fc.integer({ min: DEFAULT_MAX_FRAME_BYTES + 1, max: 2 ** 32 - 1 }), (n) => {
        cases++;
        const decoder = new FrameDecoder();
        expect(() => decoder.push(Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255))).toThrow(ProtocolError);
      }),
      { numRuns: 1000 },
    );
  });
});
