/**
 * The replica applies events in dense `seq` order only: a gap or a backwards `seq`
 * (Redis restarted empty) asks for a snapshot; events buffered meanwhile replay after it.
 */
import { PresenceReplica } from '../src/internal/presence-replica.js';
import type { ClusterEvent, ClusterPeer } from '../src/index.js';

function peer(id: string, node: string, sessionId = `${id}-s1`, epoch = 1): ClusterPeer {
  return { id, node, sessionId, epoch, state: 'alive', cause: null, transport: 'tcp', remote: '127.0.0.1:1', connectedAt: 1000, since: 1000, rttMs: null };
}

function joined(seq: number, p: ClusterPeer, replaced: { node: string; sessionId: string; epoch: number } | null = null): ClusterEvent {
  return { type: 'joined', seq, at: seq, node: p.node, peer: p, replaced };
}

function ended(seq: number, p: ClusterPeer, type: 'dead' | 'left' = 'dead'): ClusterEvent {
  return { type, seq, at: seq, node: p.node, peerId: p.id, sessionId: p.sessionId, epoch: p.epoch, cause: type === 'dead' ? 'node-lost' : 'peer-close' };
}

function loaded(seq: number, peers: ClusterPeer[] = []): PresenceReplica {
  const r = new PresenceReplica();
  expect(r.load(seq, peers)).toEqual({ replayed: [], gap: false });
  return r;
}

test('buffers everything until the first snapshot, then replays what came after it', () => {
  const r = new PresenceReplica();
  const a = peer('a', 'n1');
  const b = peer('b', 'n2');
  expect(r.loading).toBe(true);
  expect(r.offer(joined(5, a))).toBe('buffered');
  expect(r.offer(joined(6, b))).toBe('buffered');
  const { replayed, gap } = r.load(5, [a]);
  expect(gap).toBe(false);
  expect(replayed.map((e) => e.seq)).toEqual([6]);
  expect(r.list().map((p) => p.id)).toEqual(['a', 'b']);
  expect(r.seq).toBe(6);
});

test('applies in order; a skipped seq is a gap that a snapshot resolves', () => {
  const a = peer('a', 'n1');
  const b = peer('b', 'n1');
  const r = loaded(10);
  expect(r.offer(joined(11, a))).toBe('applied');
  expect(r.offer(joined(13, b))).toBe('gap');
  expect(r.loading).toBe(true);
  expect(r.offer(ended(14, a))).toBe('buffered');
  // The snapshot at 12 lacks 13 and 14: replayed in order.
  const { replayed, gap } = r.load(12, [a]);
  expect(gap).toBe(false);
  expect(replayed.map((e) => e.seq)).toEqual([13, 14]);
  expect(r.list().map((p) => p.id)).toEqual(['b']);
});

test('a gap inside the buffer needs another snapshot', () => {
  const r = loaded(1);
  expect(r.offer(joined(3, peer('a', 'n1')))).toBe('gap');
  expect(r.offer(joined(5, peer('b', 'n1')))).toBe('buffered');
  const { replayed, gap } = r.load(3, [peer('a', 'n1')]);
  expect(replayed).toEqual([]);
  expect(gap).toBe(true);
  expect(r.loading).toBe(true);
});

test('a backwards seq (Redis restarted empty) is a gap, not a duplicate to drop', () => {
  const r = loaded(500, [peer('a', 'n1')]);
  expect(r.offer(joined(1, peer('b', 'n2')))).toBe('gap');
  const { gap } = r.load(1, [peer('b', 'n2')]);
  expect(gap).toBe(false);
  expect(r.list().map((p) => p.id)).toEqual(['b']);
});

test('only the session named by an event is touched: an old session ending does not remove the new one', () => {
  const old = peer('a', 'n1', 'a-s1', 1);
  const moved = peer('a', 'n2', 'a-s2', 2);
  const r = loaded(1, [old]);
  expect(r.offer(joined(2, moved, { node: 'n1', sessionId: 'a-s1', epoch: 1 }))).toBe('applied');
  expect(r.offer(ended(3, old))).toBe('applied');
  expect(r.offer({ type: 'suspect', seq: 4, at: 4, node: 'n1', peerId: 'a', sessionId: 'a-s1', epoch: 1, cause: 'heartbeat-timeout', since: 4 })).toBe('applied');
  expect(r.offer({ type: 'rtt', seq: 5, at: 5, node: 'n1', samples: [['a', 'a-s1', 9]] })).toBe('applied');
  expect(r.get('a')).toEqual(moved);
});

test('suspect, recovered and rtt update the entry; left removes it', () => {
  const a = peer('a', 'n1');
  const r = loaded(0, [a]);
  r.offer({ type: 'suspect', seq: 1, at: 1, node: 'n1', peerId: 'a', sessionId: a.sessionId, epoch: 1, cause: 'heartbeat-timeout', since: 2000 });
  expect(r.get('a')).toMatchObject({ state: 'suspect', cause: 'heartbeat-timeout', since: 2000 });
  r.offer({ type: 'recovered', seq: 2, at: 2, node: 'n1', peerId: 'a', sessionId: a.sessionId, epoch: 1, cause: null, since: 2500 });
  r.offer({ type: 'rtt', seq: 3, at: 3, node: 'n1', samples: [['a', a.sessionId, 1.5]] });
  expect(r.get('a')).toMatchObject({ state: 'alive', cause: null, since: 2500, rttMs: 1.5 });
  r.offer(ended(4, a, 'left'));
  expect(r.size).toBe(0);
});

test('stale(): ahead of Redis, or still behind the seq seen one check earlier', () => {
  const r = loaded(10);
  expect(r.stale(10, null)).toBe(false);
  expect(r.stale(9, null)).toBe(true);
  // Behind: fine once (messages in flight), stale if still behind that target next time.
  expect(r.stale(12, null)).toBe(false);
  expect(r.stale(12, 12)).toBe(true);
  r.offer(joined(11, peer('a', 'n1')));
  r.offer(joined(12, peer('b', 'n1')));
  expect(r.stale(12, 12)).toBe(false);
});
