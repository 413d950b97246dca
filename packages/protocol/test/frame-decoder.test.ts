import fc from 'fast-check';
import { CloseCode, DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES } from '../src/constants.js';
import { ErrorCode, ProtocolError } from '../src/errors.js';
import { FrameDecoder, encodeFrame, encodeFrameHeader } from '../src/frame-decoder.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
const list = (frames: Uint8Array[]): number[][] => frames.map((f) => [...f]);

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Feeds `stream` cut at `cuts` (sorted, deduplicated offsets) and collects every payload. */
function feed(decoder: FrameDecoder, stream: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    out.push(...decoder.push(stream.subarray(from, cut)));
    from = cut;
  }
  return out;
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

function expectTooLarge(error: unknown, length: number, max: number): void {
  expect(error).toBeInstanceOf(ProtocolError);
  const pe = error as ProtocolError;
  expect(pe.code).toBe(ErrorCode.FrameTooLarge);
  expect(pe.closeCode).toBe(CloseCode.FrameTooLarge);
  expect(pe.closeCode).toBe(1009);
  expect(pe.message).toBe(`frame of ${length} bytes exceeds the limit of ${max} bytes`);
}

describe('encodeFrame / encodeFrameHeader', () => {
  it('prefixes the payload with its big-endian uint32 length', () => {
    expect([...encodeFrame(bytes(1, 2, 3))]).toStrictEqual([0, 0, 0, 3, 1, 2, 3]);
    expect([...encodeFrame(new Uint8Array(0))]).toStrictEqual([0, 0, 0, 0]);
    expect([...encodeFrame(new Uint8Array(0x1234)).subarray(0, 4)]).toStrictEqual([0, 0, 0x12, 0x34]);
  });

  it('writes headers up to 2^32 - 1', () => {
    expect([...encodeFrameHeader(0x01020304)]).toStrictEqual([1, 2, 3, 4]);
    expect([...encodeFrameHeader(0xffffffff)]).toStrictEqual([0xff, 0xff, 0xff, 0xff]);
    expect(encodeFrameHeader(7)).toHaveLength(FRAME_HEADER_BYTES);
  });
});

describe('FrameDecoder fixtures', () => {
  it('decodes one whole frame', () => {
    const d = new FrameDecoder();
    expect(list(d.push(bytes(0, 0, 0, 2, 0xaa, 0xbb)))).toStrictEqual([[0xaa, 0xbb]]);
    expect(d.bufferedBytes).toBe(0);
  });

  it('whole(): takes a chunk that is exactly one frame, and declines anything else without consuming it', () => {
    const d = new FrameDecoder(4);
    expect([...d.whole(bytes(0, 0, 0, 2, 0xaa, 0xbb))!]).toStrictEqual([0xaa, 0xbb]);
    expect([...d.whole(bytes(0, 0, 0, 0))!]).toStrictEqual([]);
    expect(d.whole(bytes(0, 0, 0, 2, 0xaa))).toBeNull(); // short
    expect(d.whole(bytes(0, 0, 0, 1, 0xaa, 0, 0, 0, 0))).toBeNull(); // two frames
    expect(d.whole(bytes(0, 0, 0, 5, 1, 2, 3, 4, 5))).toBeNull(); // over the limit: push throws for it
    expect(d.whole(bytes(0, 0))).toBeNull();
    expect(d.bufferedBytes).toBe(0);
    expect(list(d.push(bytes(0, 0, 0, 2, 0xaa)))).toStrictEqual([]);
    // Something is held: the next chunk completes it, so it is not a whole frame of its own.
    expect(d.whole(bytes(0, 0, 0, 0))).toBeNull();
    expect(list(d.push(bytes(0xbb)))).toStrictEqual([[0xaa, 0xbb]]);
  });

  it('decodes several frames coalesced in one chunk, in order', () => {
    const d = new FrameDecoder();
    expect(list(d.push(bytes(0, 0, 0, 1, 7, 0, 0, 0, 0, 0, 0, 0, 2, 8, 9)))).toStrictEqual([[7], [], [8, 9]]);
    expect(d.bufferedBytes).toBe(0);
  });

  it('holds a split header and a split payload until complete', () => {
    const d = new FrameDecoder();
    expect(d.push(bytes(0, 0))).toStrictEqual([]);
    expect(d.bufferedBytes).toBe(2);
    expect(d.push(bytes(0, 3, 1))).toStrictEqual([]);
    expect(d.bufferedBytes).toBe(5);
    expect(d.push(bytes(2))).toStrictEqual([]);
    expect(d.bufferedBytes).toBe(6);
    expect(list(d.push(bytes(3, 0, 0)))).toStrictEqual([[1, 2, 3]]);
    expect(d.bufferedBytes).toBe(2);
    expect(list(d.push(bytes(0, 1, 4)))).toStrictEqual([[4]]);
    expect(d.bufferedBytes).toBe(0);
  });

  it('decodes zero-length frames, alone, split and coalesced', () => {
    const d = new FrameDecoder();
    expect(list(d.push(bytes(0, 0, 0, 0)))).toStrictEqual([[]]);
    expect(list(d.push(bytes(0, 0, 0)))).toStrictEqual([]);
    expect(list(d.push(bytes(0, 0, 0, 0, 0)))).toStrictEqual([[], []]);
    expect(d.bufferedBytes).toBe(0);
  });

  it('accepts an empty chunk at any point', () => {
    const d = new FrameDecoder();
    expect(d.push(new Uint8Array(0))).toStrictEqual([]);
    expect(d.push(bytes(0, 0, 0, 1))).toStrictEqual([]);
    expect(d.push(new Uint8Array(0))).toStrictEqual([]);
    expect(list(d.push(bytes(5)))).toStrictEqual([[5]]);
  });

  it('accepts a frame of exactly maxFrameBytes', () => {
    const d = new FrameDecoder(4);
    expect(list(d.push(bytes(0, 0, 0, 4, 1, 2, 3, 4)))).toStrictEqual([[1, 2, 3, 4]]);
  });

  it('defaults maxFrameBytes to DEFAULT_MAX_FRAME_BYTES', () => {
    expect(new FrameDecoder().push(encodeFrameHeader(DEFAULT_MAX_FRAME_BYTES))).toStrictEqual([]);
    expectTooLarge(
      catchError(() => new FrameDecoder().push(encodeFrameHeader(DEFAULT_MAX_FRAME_BYTES + 1))),
      DEFAULT_MAX_FRAME_BYTES + 1,
      DEFAULT_MAX_FRAME_BYTES,
    );
  });
});

describe('FrameDecoder oversize frames', () => {
  it('rejects a declared length above the limit from the header alone', () => {
    const d = new FrameDecoder(16);
    expectTooLarge(catchError(() => d.push(bytes(0, 0, 0, 17))), 17, 16);
  });

  it('reads the length as unsigned', () => {
    const d = new FrameDecoder(16);
    expectTooLarge(catchError(() => d.push(bytes(0xff, 0xff, 0xff, 0xff))), 0xffffffff, 16);
  });

  it('rejects when the header is split across chunks, on the chunk completing it', () => {
    const d = new FrameDecoder(16);
    expect(d.push(bytes(0, 0))).toStrictEqual([]);
    expect(d.push(bytes(0))).toStrictEqual([]);
    expectTooLarge(catchError(() => d.push(bytes(17))), 17, 16);
  });

  it('rejects a header split after earlier complete frames, before any payload arrives', () => {
    const d = new FrameDecoder(16);
    expect(list(d.push(bytes(0, 0, 0, 1, 9, 0, 0, 0x10)))).toStrictEqual([[9]]);
    expect(d.bufferedBytes).toBe(3);
    expectTooLarge(catchError(() => d.push(bytes(0))), 0x1000, 16);
  });

  it('rejects an oversize header coalesced after a valid frame', () => {
    const d = new FrameDecoder(16);
    expectTooLarge(catchError(() => d.push(bytes(0, 0, 0, 1, 9, 0, 1, 0, 0))), 0x10000, 16);
  });

  it('rejects with any chunking, never buffering more than the header', () => {
    fc.assert(
      fc.property(fc.integer({ min: 17, max: 0xffffffff }), fc.uniqueArray(fc.integer({ min: 1, max: 11 })), (length, cuts) => {
        const stream = concat([encodeFrame(bytes(1)), encodeFrameHeader(length), bytes(1, 2, 3)]);
        const d = new FrameDecoder(16);
        let from = 0;
        let error: unknown;
        for (const cut of [...cuts.sort((a, b) => a - b), stream.length]) {
          try {
            d.push(stream.subarray(from, cut));
          } catch (e) {
            error = e;
            // The header ends at byte 9: nothing after it may have been needed to refuse.
            expect(cut).toBeGreaterThanOrEqual(9);
            expect(from).toBeLessThan(9);
            break;
          }
          from = cut;
        }
        expectTooLarge(error, length, 16);
      }),
    );
  });
});

describe('FrameDecoder property: any chunking decodes the same', () => {
  const payloads = fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 12 });

  it('for arbitrary split points', () => {
    fc.assert(
      fc.property(
        payloads.chain((ps) => {
          const total = ps.reduce((n, p) => n + FRAME_HEADER_BYTES + p.length, 0);
          return fc.tuple(fc.constant(ps), fc.uniqueArray(fc.integer({ min: 0, max: total }), { maxLength: total + 1 }));
        }),
        ([ps, cuts]) => {
          const stream = concat(ps.map(encodeFrame));
          const d = new FrameDecoder(64);
          expect(list(feed(d, stream, [...cuts].sort((a, b) => a - b)))).toStrictEqual(list(ps));
          expect(d.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('in 1-byte chunks', () => {
    fc.assert(
      fc.property(payloads, (ps) => {
        const stream = concat(ps.map(encodeFrame));
        const d = new FrameDecoder(64);
        const cuts = Array.from({ length: stream.length }, (_, i) => i);
        expect(list(feed(d, stream, cuts))).toStrictEqual(list(ps));
        expect(d.bufferedBytes).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('as one coalesced chunk', () => {
    fc.assert(
      fc.property(payloads, (ps) => {
        const d = new FrameDecoder(64);
        expect(list(d.push(concat(ps.map(encodeFrame))))).toStrictEqual(list(ps));
        expect(d.bufferedBytes).toBe(0);
      }),
    );
  });

  it('reports exactly the bytes of the unfinished frame as buffered', () => {
    fc.assert(
      fc.property(payloads, fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.nat(), (ps, last, at) => {
        const whole = concat(ps.map(encodeFrame));
        const tail = encodeFrame(last);
        const keep = at % tail.length; // a strict prefix of the last frame
        const d = new FrameDecoder(64);
        expect(list(feed(d, concat([whole, tail.subarray(0, keep)]), [whole.length]))).toStrictEqual(list(ps));
        expect(d.bufferedBytes).toBe(keep);
        expect(list(d.push(tail.subarray(keep)))).toStrictEqual([[...last]]);
        expect(d.bufferedBytes).toBe(0);
      }),
    );
  });
});
