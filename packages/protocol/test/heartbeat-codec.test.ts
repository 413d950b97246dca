/**
 * The heartbeat fast path against the general codec: `encodePing`/`encodePong` must give
 * exactly msgpackr's bytes for any field values, and `readPong` must agree with
 * `decodeMessage` on every payload it accepts and decline (return false) on the rest,
 * for valid pongs, other messages, hand-made encodings and mutated bytes.
 */
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { decodeMessage, encodeMessage } from '../src/codec.js';
import { MessageType } from '../src/constants.js';
import { encodePing, encodePong, readPong, type PongFields } from '../src/heartbeat-codec.js';
import type { PongMessage } from '../src/messages.js';

const uint = fc.integer({ min: 0, max: 2 ** 32 - 1 });
/** Every number form msgpackr writes: small and large integers, negatives, doubles, -0, NaN, infinities. */
const anyNumber = fc.oneof(
  uint,
  fc.integer({ min: -(2 ** 31), max: -1 }),
  fc.integer({ min: -40, max: 300 }),
  fc.double(),
  fc.constantFrom(0, -0, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, -32, -33, -128, -129, -32768, -32769, 2 ** 31, -(2 ** 31), 1.5, 1764737000000.25, Number.MAX_SAFE_INTEGER),
);
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });

function bytes(u: Uint8Array): number[] {
  return [...u];
}

function fresh(): PongFields {
  return { seq: -9, echoTs: -9, time: -9, ack: -9 };
}

/** What `decodeMessage` says, or 'error'. */
function decoded(payload: Uint8Array): PongMessage | 'other' | 'error' {
  try {
    const m = decodeMessage(payload);
    return m.type === MessageType.Pong ? m : 'other';
  } catch {
    return 'error';
  }
}

describe('encodePing', () => {
  it('writes the bytes encodeMessage writes, for any seq, ts, ack and rtt', () => {
    fc.assert(
      fc.property(anyNumber, anyNumber, opt(anyNumber), opt(anyNumber), (seq, ts, ack, rtt) => {
        const expected = encodeMessage({ type: MessageType.Ping, seq, ts, ...(ack === undefined ? {} : { ack }), ...(rtt === undefined ? {} : { rtt }) });
        expect(bytes(encodePing(seq, ts, ack, rtt))).toEqual(bytes(expected));
      }),
      { numRuns: 5000 },
    );
  });

  it('writes a typical server ping as a fixarray with a float64 timestamp and nil for a missing ack', () => {
    expect(bytes(encodePing(1, 1.5))).toEqual([0x93, 3, 1, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
    expect(bytes(encodePing(300, 2, undefined, 0.25))).toEqual([0x95, 3, 0xcd, 1, 44, 2, 0xc0, 0xcb, 0x3f, 0xd0, 0, 0, 0, 0, 0, 0]);
  });

  it('leaves headroom for a frame header when asked, the payload unchanged after it', () => {
    fc.assert(
      fc.property(uint, anyNumber, opt(uint), opt(anyNumber), fc.integer({ min: 1, max: 8 }), (seq, ts, ack, rtt, headroom) => {
        const framed = encodePing(seq, ts, ack, rtt, headroom);
        expect(bytes(framed.subarray(headroom))).toEqual(bytes(encodePing(seq, ts, ack, rtt)));
        expect(bytes(encodePong(seq, ts, 5, ack, headroom).subarray(headroom))).toEqual(bytes(encodePong(seq, ts, 5, ack)));
      }),
      { numRuns: 500 },
    );
  });

  it('returns a new buffer each call (transports may keep it)', () => {
    const a = encodePing(1, 2);
    const b = encodePing(3, 4);
    expect(bytes(a)).toEqual([0x93, 3, 1, 2]);
    expect(bytes(b)).toEqual([0x93, 3, 3, 4]);
  });
});

describe('encodePong', () => {
  it('writes the bytes encodeMessage writes, for any seq, echoTs, time and ack', () => {
    fc.assert(
      fc.property(anyNumber, anyNumber, anyNumber, opt(anyNumber), (seq, echoTs, time, ack) => {
        const expected = encodeMessage({ type: MessageType.Pong, seq, echoTs, time, ...(ack === undefined ? {} : { ack }) });
        expect(bytes(encodePong(seq, echoTs, time, ack))).toEqual(bytes(expected));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('readPong', () => {
  it('reads any valid pong as decodeMessage does', () => {
    const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(uint, fc.oneof(finite, uint), fc.oneof(finite, uint), opt(uint), (seq, echoTs, time, ack) => {
        const payload = encodePong(seq, echoTs, time, ack);
        const out = fresh();
        expect(readPong(payload, out)).toBe(true);
        // -0 goes out as the integer 0 (as msgpackr writes it), so it reads back as 0.
        const z = (n: number): number => (n === 0 ? 0 : n);
        expect(decoded(payload)).toEqual({ type: MessageType.Pong, seq, echoTs: z(echoTs), time: z(time), ...(ack === undefined ? {} : { ack }) });
        expect(out).toEqual({ seq, echoTs: z(echoTs), time: z(time), ack: ack ?? -1 });
      }),
      { numRuns: 3000 },
    );
  });

  it('never accepts what decodeMessage rejects or reads as something else, and agrees on what it accepts', () => {
    // Other encoders' choices too: float32, int64, nil ack, extra fields, other tags.
    const packr = new Packr({ useRecords: false, useFloat32: 1, encodeUndefinedAsNil: true });
    const field = fc.oneof(anyNumber, fc.constant(null), fc.constant('x'), fc.constant(true), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }));
    const candidates = fc.oneof(
      fc.array(field, { minLength: 0, maxLength: 7 }).map((rest) => packr.pack([MessageType.Pong, ...rest])),
      fc.array(field, { minLength: 0, maxLength: 7 }).map((rest) => encodeMessage({ type: MessageType.Data, seq: 1, body: rest })),
      fc.tuple(uint, anyNumber, anyNumber, opt(uint)).map(([s, e, t, a]) => encodePong(s, e, t, a)),
    );
    const mutated = fc.tuple(candidates, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'truncate', 'append', 'none')).map(([p, at, byte, how]) => {
      const b = Uint8Array.from(p);
      if (b.length === 0) return b;
      const i = at % b.length;
      if (how === 'flip') b[i] = byte;
      if (how === 'truncate') return b.subarray(0, i);
      if (how === 'append') return Uint8Array.from([...b, byte]);
      return b;
    });
    fc.assert(
      fc.property(mutated, (payload) => {
        const out = fresh();
        if (!readPong(payload, out)) return;
        const m = decoded(payload);
        expect(m).not.toBe('error');
        expect(m).not.toBe('other');
        const pong = m as PongMessage;
        expect(out).toEqual({ seq: pong.seq, echoTs: pong.echoTs, time: pong.time, ack: pong.ack ?? -1 });
      }),
      { numRuns: 20000 },
    );
  });

  it('declines other messages, extra trailing fields and float32 (left to decodeMessage)', () => {
    const out = fresh();
    expect(readPong(encodePing(1, 2), out)).toBe(false);
    expect(readPong(Uint8Array.from([0x96, 4, 1, 2, 3, 4, 5]), out)).toBe(false);
    expect(readPong(Uint8Array.from([0x94, 4, 1, 2, 0xca, 0x3f, 0xc0, 0, 0]), out)).toBe(false);
    expect(readPong(Uint8Array.from([0x94, 4, 0xff, 2, 3]), out)).toBe(false); // seq -1
    expect(readPong(Uint8Array.from([0x94, 4, 1, 2]), out)).toBe(false); // truncated
    expect(readPong(Uint8Array.from([0x94, 4, 1, 2, 3, 0]), out)).toBe(false); // trailing byte
    expect(out).toEqual(fresh());
  });

  it('reads a float64 -0 as 0, as decodeMessage does (fuzz counterexample)', () => {
    const payload = Uint8Array.from([0x95, 4, 0xce, 0, 1, 0, 0, 0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0, 0xce, 0, 1, 0, 0, 0xce, 0, 1, 0, 0]);
    const out = fresh();
    expect(readPong(payload, out)).toBe(true);
    expect(Object.is(out.echoTs, 0)).toBe(true);
    expect(out).toEqual({ seq: 65536, echoTs: 0, time: 65536, ack: 65536 });
  });

  it('reads a nil ack as absent', () => {
    const out = fresh();
    expect(readPong(Uint8Array.from([0x95, 4, 7, 8, 9, 0xc0]), out)).toBe(true);
    expect(out).toEqual({ seq: 7, echoTs: 8, time: 9, ack: -1 });
    expect(decoded(Uint8Array.from([0x95, 4, 7, 8, 9, 0xc0]))).toEqual({ type: MessageType.Pong, seq: 7, echoTs: 8, time: 9 });
  });
});
