import { ErrorCode, MessageType, ProtocolError, decodeMessage } from '@vigil/protocol';
import { SessionStream } from '../src/session-stream.js';

const limits = { maxMessages: 4, maxBytes: 10_000 };

function seqOf(payload: Uint8Array): number {
  const m = decodeMessage(payload);
  if (m.type !== MessageType.Data) throw new Error('not data');
  return m.seq;
}

function thrown(f: () => unknown): ProtocolError {
  try {
    f();
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw error;
  }
  throw new Error('did not throw');
}

describe('SessionStream', () => {
  it('numbers data from 1 and keeps a copy of each until acknowledged', () => {
    const s = new SessionStream(limits);
    const p1 = s.nextData('a');
    const p2 = s.nextData('b', 7);
    expect(decodeMessage(p1)).toEqual({ type: MessageType.Data, seq: 1, body: 'a' });
    expect(decodeMessage(p2)).toEqual({ type: MessageType.Data, seq: 2, body: 'b', ack: 7 });
    expect(s.backlog).toBe(2);
    s.acked(1);
    expect(s.backlog).toBe(1);
    expect(s.peerAck).toBe(1);
  });

  it('an ack ahead of what was sent is a protocol error (1002)', () => {
    const s = new SessionStream(limits);
    s.nextData('a');
    const e = thrown(() => s.acked(2));
    expect(e.code).toBe(ErrorCode.MalformedMessage);
    expect(e.message).toBe('ack 2 is ahead of the last data seq sent (1)');
  });

  it('delivers in order, drops duplicates, refuses a gap', () => {
    const s = new SessionStream(limits);
    expect(s.accept(1)).toBe(true);
    expect(s.accept(1)).toBe(false);
    expect(s.accept(2)).toBe(true);
    expect(thrown(() => s.accept(4)).message).toBe('data seq 4 skips ahead of 3');
    expect(s.inSeq).toBe(2);
  });

  it('replays what follows the peer ack, or refuses when something after it is gone', () => {
    const s = new SessionStream(limits);
    for (const body of ['a', 'b', 'c']) s.nextData(body);
    s.acked(1);
    expect(s.replayAfter(1)!.map(seqOf)).toEqual([2, 3]);
    expect(s.replayAfter(2)!.map(seqOf)).toEqual([3]);
    // The replay from 2 released seq 2: a later replay from 1 would miss it.
    expect(s.replayAfter(1)).toBeNull();
    expect(s.canResumeFrom(3)).toBe(true);
    expect(s.canResumeFrom(4)).toBe(false);
  });

  it('passing the bound gives up resumability once, and the owner is told', () => {
    const s = new SessionStream(limits);
    let told = 0;
    s.onOverflow = () => told++;
    for (let i = 0; i < 6; i++) s.nextData(i);
    expect(told).toBe(1);
    expect(s.resumable).toBe(false);
    expect(s.backlog).toBe(0);
    expect(s.replayAfter(0)).toBeNull();
    // Numbering goes on: the connection stays usable.
    expect(s.outSeq).toBe(6);
  });

  it('queue (no transport) holds within the bound and refuses past it without numbering', () => {
    const s = new SessionStream(limits);
    for (let i = 0; i < 4; i++) expect(s.queue(i)).toBe(true);
    expect(s.queue('no room')).toBe(false);
    expect(s.outSeq).toBe(4);
    expect(s.resumable).toBe(true);
    expect(s.replayAfter(0)!.map(seqOf)).toEqual([1, 2, 3, 4]);
  });

  it('unacknowledged returns the bodies the peer has not acknowledged', () => {
    const s = new SessionStream(limits);
    for (const body of ['a', 'b', 'c']) s.nextData(body);
    s.acked(1);
    expect(s.unacknowledged((p) => (decodeMessage(p) as { body: unknown }).body)).toEqual(['b', 'c']);
  });

  it('a plain session keeps nothing and ignores acks', () => {
    const s = new SessionStream(null);
    s.nextData('a');
    expect(s.backlog).toBe(0);
    expect(s.resumable).toBe(false);
    expect(s.acking).toBe(false);
    expect(() => s.acked(99)).not.toThrow();
    expect(s.queue('x')).toBe(false);
  });
});
