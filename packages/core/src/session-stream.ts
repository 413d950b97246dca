/**
 * The data stream of one session, which outlives its transports: the `seq` counters in
 * each direction, the cumulative acks exchanged, and (for a resumable session) the
 * replay buffer of what the peer has not acknowledged. A `Connection` numbers, delivers
 * and acknowledges through the stream it is attached to; a resumed connection picks up
 * the same stream, so numbering continues and nothing is lost or repeated.
 */
import { ErrorCode, MessageType, ProtocolError, encodeMessage } from '@vigil/protocol';
import { ReplayBuffer, type ReplayLimits } from './replay-buffer.js';

/** When a receiver acknowledges data it received (resumable sessions only). */
export const ACK_DEFAULTS = {
  /** Send a standalone `ack` once this many data messages are unacknowledged. */
  every: 32,
  /** Otherwise acknowledge within this many ms (plus one timer tick) of the first unacknowledged one. */
  delayMs: 50,
} as const;

export class SessionStream {
  /** Last data seq assigned to an outbound message (sent or queued). */
  outSeq = 0;
  /** Last data seq delivered in order. */
  inSeq = 0;
  /** Highest seq the peer has acknowledged. */
  peerAck = 0;
  /** The last ack value we sent the peer. */
  ackSent = 0;
  /** Called once when the replay buffer passes a bound (the session then stops being resumable). */
  onOverflow: (() => void) | null = null;
  /** Acks are exchanged on this session (it was negotiated resumable). */
  readonly acking: boolean;
  private buffer: ReplayBuffer | null;

  /**
   * @param replay bounds of the replay buffer for a resumable session; null for a plain
   *   session, which keeps no copies and exchanges no acks.
   */
  constructor(replay: ReplayLimits | null) {
    this.buffer = replay === null ? null : new ReplayBuffer(replay);
    this.acking = replay !== null;
  }

  /** True while every unacknowledged message is held, so the session can be resumed. */
  get resumable(): boolean {
    return this.buffer !== null;
  }

  /** The replay buffer; null when not resumable. */
  get replay(): ReplayBuffer | null {
    return this.buffer;
  }

  /** Unacknowledged messages held (sent or queued). */
  get backlog(): number {
    return this.buffer?.size ?? 0;
  }

  /** True when the receive side has delivered data it has not acknowledged yet. */
  get ackPending(): boolean {
    return this.acking && this.inSeq > this.ackSent;
  }

  /** Numbers and encodes the next data message and keeps a copy for replay; `ack` rides along if given. */
  nextData(body: unknown, ack?: number): Uint8Array {
    const seq = ++this.outSeq;
    const payload = encodeMessage({ type: MessageType.Data, seq, body, ...(ack === undefined ? {} : { ack }) });
    const buffer = this.buffer;
    if (buffer !== null) {
      if (buffer.fits(payload.length)) buffer.push(seq, payload);
      else this.overflow();
    }
    return payload;
  }

  /**
   * Queues a message while the session has no transport: numbered and held, to go out
   * with the replay on resume. False, queuing nothing, when it would pass a bound (or the
   * session is not resumable).
   */
  queue(body: unknown): boolean {
    const buffer = this.buffer;
    if (buffer === null) return false;
    const payload = encodeMessage({ type: MessageType.Data, seq: this.outSeq + 1, body });
    if (!buffer.fits(payload.length)) return false;
    buffer.push(++this.outSeq, payload);
    return true;
  }

  /** Gives up resumability: forgets the replay buffer and tells the owner once. */
  overflow(): void {
    if (this.buffer === null) return;
    this.buffer.clear();
    this.buffer = null;
    this.onOverflow?.();
  }

  /**
   * A cumulative ack from the peer: releases what it covers.
   * @throws ProtocolError (`1002`) when it acknowledges a seq never sent.
   */
  acked(ack: number): void {
    if (!this.acking) return;
    if (ack > this.outSeq) throw new ProtocolError(ErrorCode.MalformedMessage, `ack ${ack} is ahead of the last data seq sent (${this.outSeq})`);
    if (ack <= this.peerAck) return;
    this.peerAck = ack;
    this.buffer?.release(ack);
  }

  /**
   * An inbound data seq: true to deliver it, false for a duplicate (dropped silently).
   * @throws ProtocolError (`1002`) on a gap.
   */
  accept(seq: number): boolean {
    if (seq <= this.inSeq) return false;
    if (seq !== this.inSeq + 1) throw new ProtocolError(ErrorCode.MalformedMessage, `data seq ${seq} skips ahead of ${this.inSeq + 1}`);
    this.inSeq = seq;
    return true;
  }

  /**
   * What to send a peer that resumes having received everything up to `ack`: the held
   * payloads after it, in order; null when that cannot be done without loss (not
   * resumable, or `ack` outside what was sent and held).
   */
  replayAfter(ack: number): Uint8Array[] | null {
    const buffer = this.buffer;
    if (buffer === null || !this.canResumeFrom(ack)) return null;
    if (ack > this.peerAck) {
      this.peerAck = ack;
      buffer.release(ack);
    }
    return buffer.after(ack);
  }

  /** Can a peer that acknowledged `ack` be resumed without loss? */
  canResumeFrom(ack: number): boolean {
    return this.buffer !== null && ack <= this.outSeq && this.buffer.covers(ack);
  }

  /** The bodies of every unacknowledged message held, oldest first (for an application told its session was lost). */
  unacknowledged(decode: (payload: Uint8Array) => unknown): unknown[] {
    return (this.buffer?.after(this.peerAck) ?? []).map(decode);
  }
}
