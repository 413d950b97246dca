/**
 * The bounded replay buffer of one direction of a resumable session: the encoded `data`
 * payloads sent (or queued while the session has no transport) that the peer has not
 * acknowledged yet, in `seq` order. A cumulative ack releases from the front; a resumed
 * connection replays what follows the peer's ack. Bounded by count and by bytes.
 */
import { ConfigError } from '@vigil/protocol';

/** Named defaults for `ReplayOptions`. */
export const REPLAY_DEFAULTS = {
  /** Most unacknowledged messages held per session direction. */
  maxMessages: 1024,
  /** Most bytes of unacknowledged payload held per session direction (1 MiB). */
  maxBytes: 1024 * 1024,
} as const;

export interface ReplayOptions {
  /** Most unacknowledged messages held. Default 1024. */
  readonly maxMessages?: number;
  /** Most bytes of unacknowledged encoded payload held. Default 1 MiB. */
  readonly maxBytes?: number;
}

/** Validated, complete replay bounds. */
export interface ReplayLimits {
  readonly maxMessages: number;
  readonly maxBytes: number;
}

/** Fills defaults and validates. @throws ConfigError naming `<prefix>.maxMessages` or `.maxBytes`. */
export function resolveReplayLimits(options: ReplayOptions = {}, prefix = 'resume'): ReplayLimits {
  const maxMessages = options.maxMessages ?? REPLAY_DEFAULTS.maxMessages;
  const maxBytes = options.maxBytes ?? REPLAY_DEFAULTS.maxBytes;
  if (!Number.isInteger(maxMessages) || maxMessages < 1) throw new ConfigError(`${prefix}.maxMessages`, `must be a positive integer, got ${String(maxMessages)}`);
  if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new ConfigError(`${prefix}.maxBytes`, `must be a positive integer number of bytes, got ${String(maxBytes)}`);
  return { maxMessages, maxBytes };
}

export class ReplayBuffer {
  /** Seq of the last message released by an ack (everything up to it is gone). */
  private releasedSeq = 0;
  private readonly seqs: number[] = [];
  private readonly payloads: Uint8Array[] = [];
  private head = 0;
  private held = 0;

  constructor(readonly limits: ReplayLimits) {}

  /** Messages held. */
  get size(): number {
    return this.seqs.length - this.head;
  }

  /** Bytes of payload held. */
  get bytes(): number {
    return this.held;
  }

  /** Seq of the last message released (acknowledged). */
  get released(): number {
    return this.releasedSeq;
  }

  /** Whether one more payload of `bytes` stays within both bounds. */
  fits(bytes: number): boolean {
    return this.size < this.limits.maxMessages && this.held + bytes <= this.limits.maxBytes;
  }

  /** Appends the payload of data message `seq` (the caller numbers messages consecutively and checks `fits`). */
  push(seq: number, payload: Uint8Array): void {
    this.seqs.push(seq);
    this.payloads.push(payload);
    this.held += payload.length;
  }

  /** Drops every message with seq ≤ `ack`. */
  release(ack: number): void {
    if (ack <= this.releasedSeq) return;
    this.releasedSeq = ack;
    while (this.head < this.seqs.length && this.seqs[this.head]! <= ack) {
      this.held -= this.payloads[this.head]!.length;
      this.payloads[this.head] = EMPTY;
      this.head++;
    }
    // Compact once the dead prefix dominates, so release stays amortised O(1).
    if (this.head > 64 && this.head * 2 > this.seqs.length) {
      this.seqs.splice(0, this.head);
      this.payloads.splice(0, this.head);
      this.head = 0;
    }
  }

  /** True when every message after `ack` is still held, so a replay from `ack` is complete. */
  covers(ack: number): boolean {
    return ack >= this.releasedSeq;
  }

  /** Payloads with seq > `ack`, oldest first. */
  after(ack: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = this.head; i < this.seqs.length; i++) if (this.seqs[i]! > ack) out.push(this.payloads[i]!);
    return out;
  }

  /** Forgets everything (the session stopped being resumable). */
  clear(): void {
    this.seqs.length = 0;
    this.payloads.length = 0;
    this.head = 0;
    this.held = 0;
  }
}

const EMPTY = new Uint8Array(0);
