/**
 * The heartbeat fast path: `ping` and `pong` written and read straight from bytes, with no
 * message object, no msgpack array and no general decoder. The output is byte-for-byte
 * what `encodeMessage` (msgpackr) produces for the same message, and the readers accept
 * exactly what `decodeMessage` accepts for the shapes they know; anything else makes them
 * return false so the caller falls back to `decodeMessage`, which gives the precise error.
 */
import { MessageType } from './constants.js';

/** Bytes of the largest number encoding we write (0xcb + float64). */
const MAX_NUMBER_BYTES = 9;

const scratch = new DataView(new ArrayBuffer(8));
const scratchBytes = new Uint8Array(scratch.buffer);

/** Node's pooled allocation where it exists (a view on a shared slab); a plain array in a browser. */
const allocate: (length: number) => Uint8Array = typeof Buffer === 'function' ? (length) => Buffer.allocUnsafe(length) : (length) => new Uint8Array(length);

/** Bytes `writeNumber` takes for `v`: msgpackr's choice (fixint, uint8/16/32, negative fixint, int8/16/32, else float64). */
function numberBytes(v: number): number {
  if (v >>> 0 === v) return v < 0x80 ? 1 : v < 0x100 ? 2 : v < 0x10000 ? 3 : 5;
  if (v >> 0 === v) return v >= -0x20 ? 1 : v >= -0x80 ? 2 : v >= -0x8000 ? 3 : 5;
  return MAX_NUMBER_BYTES;
}

/** Writes `v` as msgpackr does with `useRecords: false` and no float32; returns the next offset. */
function writeNumber(b: Uint8Array, at: number, v: number): number {
  if (v >>> 0 === v) {
    if (v < 0x80) {
      b[at] = v;
      return at + 1;
    }
    if (v < 0x100) {
      b[at] = 0xcc;
      b[at + 1] = v;
      return at + 2;
    }
    if (v < 0x10000) {
      b[at] = 0xcd;
      b[at + 1] = v >>> 8;
      b[at + 2] = v & 0xff;
      return at + 3;
    }
    b[at] = 0xce;
    b[at + 1] = v >>> 24;
    b[at + 2] = (v >>> 16) & 0xff;
    b[at + 3] = (v >>> 8) & 0xff;
    b[at + 4] = v & 0xff;
    return at + 5;
  }
  if (v >> 0 === v) {
    if (v >= -0x20) {
      b[at] = 0x100 + v;
      return at + 1;
    }
    if (v >= -0x80) {
      b[at] = 0xd0;
      b[at + 1] = v + 0x100;
      return at + 2;
    }
    if (v >= -0x8000) {
      b[at] = 0xd1;
      b[at + 1] = (v >> 8) & 0xff;
      b[at + 2] = v & 0xff;
      return at + 3;
    }
    b[at] = 0xd2;
    b[at + 1] = (v >> 24) & 0xff;
    b[at + 2] = (v >> 16) & 0xff;
    b[at + 3] = (v >> 8) & 0xff;
    b[at + 4] = v & 0xff;
    return at + 5;
  }
  b[at] = 0xcb;
  scratch.setFloat64(0, v);
  b.set(scratchBytes, at + 1);
  return at + 9;
}

/**
 * Writes `[tag, a, b, c?, d?]` with trailing absent fields trimmed and an absent middle
 * field as nil, as `encodeMessage` does. `undefined` marks an absent optional field.
 */
function encodeHeartbeat(tag: number, a: number, b: number, c: number | undefined, d: number | undefined, headroom: number): Uint8Array {
  const count = d !== undefined ? 5 : c !== undefined ? 4 : 3;
  const length = 2 + numberBytes(a) + numberBytes(b) + (count > 3 ? (c === undefined ? 1 : numberBytes(c)) : 0) + (count > 4 ? numberBytes(d!) : 0);
  const out = allocate(headroom + length);
  out[headroom] = 0x90 | count;
  out[headroom + 1] = tag;
  let at = writeNumber(out, headroom + 2, a);
  at = writeNumber(out, at, b);
  if (count > 3) at = c === undefined ? ((out[at] = 0xc0), at + 1) : writeNumber(out, at, c);
  if (count > 4) writeNumber(out, at, d!);
  return out;
}

/**
 * Encodes `[3, seq, ts, ack?, rtt?]`, byte-identical to
 * `encodeMessage({ type: MessageType.Ping, seq, ts, ack, rtt })`. Returns a fresh buffer
 * the caller may hand to a transport that keeps it. With `headroom` > 0 the payload starts
 * that many (unwritten) bytes in, room for a frame header written in place (no copy).
 */
export function encodePing(seq: number, ts: number, ack?: number, rtt?: number, headroom = 0): Uint8Array {
  return encodeHeartbeat(MessageType.Ping, seq, ts, ack, rtt, headroom);
}

/**
 * Encodes `[4, seq, echoTs, time, ack?]`, byte-identical to
 * `encodeMessage({ type: MessageType.Pong, seq, echoTs, time, ack })`. Returns a fresh
 * buffer; `headroom` as for `encodePing`.
 */
export function encodePong(seq: number, echoTs: number, time: number, ack?: number, headroom = 0): Uint8Array {
  return encodeHeartbeat(MessageType.Pong, seq, echoTs, time, ack, headroom);
}

/** Fields of a `pong` read by `readPong`; `ack` is -1 when absent. Reused between calls by its owner. */
export interface PongFields {
  seq: number;
  echoTs: number;
  time: number;
  ack: number;
}

/** Offset just past the number read by `readNumber`; set by it. */
let readEnd = 0;

/**
 * Reads one msgpack number at `at` (fixint, negative fixint, uint8-32, int8-32, float32,
 * float64) and sets `readEnd`; NaN for anything else (nil included), so callers can tell.
 */
function readNumber(b: Uint8Array, at: number): number {
  if (at >= b.length) return Number.NaN;
  const t = b[at]!;
  if (t < 0x80) {
    readEnd = at + 1;
    return t;
  }
  if (t >= 0xe0) {
    readEnd = at + 1;
    return t - 0x100;
  }
  switch (t) {
    case 0xcc:
      if (at + 2 > b.length) return Number.NaN;
      readEnd = at + 2;
      return b[at + 1]!;
    case 0xcd:
      if (at + 3 > b.length) return Number.NaN;
      readEnd = at + 3;
      return (b[at + 1]! << 8) | b[at + 2]!;
    case 0xce:
      if (at + 5 > b.length) return Number.NaN;
      readEnd = at + 5;
      return ((b[at + 1]! << 24) | (b[at + 2]! << 16) | (b[at + 3]! << 8) | b[at + 4]!) >>> 0;
    case 0xd0:
      if (at + 2 > b.length) return Number.NaN;
      readEnd = at + 2;
      return (b[at + 1]! << 24) >> 24;
    case 0xd1:
      if (at + 3 > b.length) return Number.NaN;
      readEnd = at + 3;
      return (((b[at + 1]! << 8) | b[at + 2]!) << 16) >> 16;
    case 0xd2:
      if (at + 5 > b.length) return Number.NaN;
      readEnd = at + 5;
      return (b[at + 1]! << 24) | (b[at + 2]! << 16) | (b[at + 3]! << 8) | b[at + 4]!;
    case 0xca:
    case 0xcb: {
      const n = t === 0xca ? 4 : 8;
      if (at + 1 + n > b.length) return Number.NaN;
      for (let i = 0; i < n; i++) scratch.setUint8(i, b[at + 1 + i]!);
      readEnd = at + 1 + n;
      // msgpackr rounds float32 to the decimal digits it can hold; leave those to it.
      // `+ 0` reads -0 as 0, as decodeMessage does.
      return t === 0xca ? Number.NaN : scratch.getFloat64(0) + 0;
    }
    default:
      return Number.NaN;
  }
}

function isUint(v: number): boolean {
  return Number.isInteger(v) && v >= 0;
}

/**
 * Reads a `pong` payload `[4, seq, echoTs, time, ack?]` into `out` without allocating.
 * True when the payload is such a pong, every field valid and encoded in a form this
 * reader knows, and nothing follows; then `out` holds what `decodeMessage` would return.
 * False for anything else (another message, bad fields, extra fields, float32): the
 * caller decodes it with `decodeMessage`, which accepts or rejects it properly.
 */
export function readPong(payload: Uint8Array, out: PongFields): boolean {
  const head = payload[0];
  if ((head !== 0x94 && head !== 0x95) || payload[1] !== MessageType.Pong) return false;
  const seq = readNumber(payload, 2);
  if (!isUint(seq)) return false;
  const echoTs = readNumber(payload, readEnd);
  if (!Number.isFinite(echoTs)) return false;
  const time = readNumber(payload, readEnd);
  if (!Number.isFinite(time)) return false;
  let ack = -1;
  if (head === 0x95) {
    if (payload[readEnd] === 0xc0) readEnd++;
    else {
      ack = readNumber(payload, readEnd);
      if (!isUint(ack)) return false;
    }
  }
  if (readEnd !== payload.length) return false;
  out.seq = seq;
  out.echoTs = echoTs;
  out.time = time;
  out.ack = ack;
  return true;
}
