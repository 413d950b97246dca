/**
 * Streaming decoder for the TCP framing: a 4-byte big-endian payload length, then
 * the payload. Handles frames split across chunks and many frames in one chunk,
 * and refuses a declared length above `maxFrameBytes` before buffering any of it.
 */
import { DEFAULT_MAX_FRAME_BYTES, CloseCode, FRAME_HEADER_BYTES } from './constants.js';
import { ErrorCode, ProtocolError } from './errors.js';

/** Prefixes a payload with its length header. */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  new DataView(frame.buffer).setUint32(0, payload.length);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/** Writes a frame header for a payload of `length` bytes. */
export function encodeFrameHeader(length: number): Uint8Array {
  const header = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(header.buffer).setUint32(0, length);
  return header;
}

export class FrameDecoder {
  private readonly maxFrameBytes: number;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private expected = -1;

  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /**
   * The common case without the array `push` returns: when nothing is held and `chunk` is
   * exactly one complete frame within the limit, its payload (a view into `chunk`); else
   * null, and nothing was consumed (feed the chunk to `push`).
   */
  whole(chunk: Uint8Array): Uint8Array | null {
    if (this.pendingBytes > 0 || chunk.length < FRAME_HEADER_BYTES) return null;
    const length = readUint32(chunk, 0);
    if (length !== chunk.length - FRAME_HEADER_BYTES || length > this.maxFrameBytes) return null;
    return chunk.subarray(FRAME_HEADER_BYTES);
  }

  /**
   * Feeds a chunk; returns the complete payloads it finished, in order.
   * Returned payloads may be views into `chunk`.
   * @throws ProtocolError `ERR_VIGIL_FRAME_TOO_LARGE` when a header declares more than `maxFrameBytes`.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let data = chunk;
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      const needed = this.expected < 0 ? FRAME_HEADER_BYTES : FRAME_HEADER_BYTES + this.expected;
      if (this.pendingBytes < needed) {
        if (this.expected < 0) this.readHeaderFromPending();
        return out;
      }
      data = concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
      this.expected = -1;
    }
    let offset = 0;
    while (data.length - offset >= FRAME_HEADER_BYTES) {
      const length = this.checkLength(readUint32(data, offset));
      if (data.length - offset - FRAME_HEADER_BYTES < length) break;
      const start = offset + FRAME_HEADER_BYTES;
      out.push(data.subarray(start, start + length));
      offset = start + length;
    }
    if (offset < data.length) {
      const rest = data.subarray(offset);
      this.pending = [rest];
      this.pendingBytes = rest.length;
      this.expected = rest.length >= FRAME_HEADER_BYTES ? readUint32(rest, 0) : -1;
    }
    return out;
  }

  private readHeaderFromPending(): void {
    if (this.pendingBytes < FRAME_HEADER_BYTES) return;
    const joined = concat(this.pending, this.pendingBytes);
    this.pending = [joined];
    this.expected = this.checkLength(readUint32(joined, 0));
  }

  private checkLength(length: number): number {
    if (length > this.maxFrameBytes) {
      throw new ProtocolError(
        ErrorCode.FrameTooLarge,
        `frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes} bytes`,
        CloseCode.FrameTooLarge,
      );
    }
    return length;
  }
}

function readUint32(b: Uint8Array, offset: number): number {
  return ((b[offset]! << 24) | (b[offset + 1]! << 16) | (b[offset + 2]! << 8) | b[offset + 3]!) >>> 0;
}

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
