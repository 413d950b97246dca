/**
 * The stream's delta encoder: exact patches for each kind of change, and a property:
 * a page that applies every delta (as public/model.js does) always holds exactly the
 * state a fresh `full` message would give it.
 */
import type { PeerState } from '@vigil/core';
import type { PeerInfo } from '@vigil/server';
import fc from 'fast-check';
import { applySamples, diffSamples, StreamEncoder, type EncodedPeer, type KernelView, type PeerPatch } from '../src/internal/stream-encoder.js';

const CAP = 16;

function info(over: Partial<PeerInfo> & { sessionId: string }): PeerInfo {
  return {
    id: over.sessionId,
    transport: 'tcp',
    remote: '127.0.0.1:40000',
    state: 'alive',
    cause: null,
    rttMs: null,
    rttVarMs: null,
    rttSamples: [],
    clockOffsetMs: null,
    lastSeenMs: 0,
    intervalMs: 200,
    timeoutMs: 800,
    connectedAt: 1000,
    since: 1000,
    reconnects: 0,
    ...over,
  };
}

/** The page's model: what public/model.js does with `full` and `delta`, with lastSeen made absolute. */
type PagePeer = Omit<EncodedPeer, 'lsa' | 'smp'> & { smp: readonly number[]; lastSeenAt: number };

function decode(p: EncodedPeer | PeerPatch, now: number): PagePeer {
  const { lsa, ...rest } = p as EncodedPeer;
  return { ...rest, smp: [...(rest.smp ?? [])], lastSeenAt: now - lsa };
}

function apply(page: Map<number, PagePeer>, delta: { up: readonly PeerPatch[]; rm: readonly number[] }, now: number): void {
  for (const patch of delta.up) {
    const peer = page.get(patch.k);
    if (peer === undefined) {
      page.set(patch.k, decode(patch, now));
      continue;
    }
    const target = peer as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(patch)) {
      if (key === 'lsa') peer.lastSeenAt = now - (value as number);
      else if (key === 'sa') peer.smp = applySamples(peer.smp, value as number[], CAP);
      else target[key] = value;
    }
  }
  for (const k of delta.rm) page.delete(k);
}

describe('StreamEncoder', () => {
  it('on a cluster node, names each peer\'s node: the default for this server\'s, its own for another node\'s, patched only when it moves', () => {
    const enc = new StreamEncoder(CAP);
    const first = enc.update([info({ sessionId: 'a' }), { ...info({ sessionId: 'b', lastSeenMs: 0, since: 1000 }), node: 'n2' }], 1000, () => null, 'n1');
    expect(first.up.map((p) => [p.id, p.nd])).toEqual([
      ['a', 'n1'],
      ['b', 'n2'],
    ]);
    // Another node's peer pinned at lastSeen = since: quiet as time passes.
    expect(enc.update([info({ sessionId: 'a', lastSeenMs: 0 }), { ...info({ sessionId: 'b', lastSeenMs: 500, since: 1000 }), node: 'n2' }], 1500, () => null, 'n1').up).toEqual([
      { k: 1, lsa: 0 },
    ]);
    expect(enc.update([info({ sessionId: 'a', lastSeenMs: 0 }), { ...info({ sessionId: 'b', lastSeenMs: 600, since: 1000 }), node: 'n3' }], 1600, () => null, 'n1').up).toEqual([
      { k: 1, lsa: 0 },
      { k: 2, nd: 'n3' },
    ]);
    // Not clustered: no node field at all.
    expect(Object.keys(new StreamEncoder(CAP).update([info({ sessionId: 'c' })], 0).up[0]!)).not.toContain('nd');
  });

  it('sends a new session whole, then nothing while it does not change', () => {
    const enc = new StreamEncoder(CAP);
    const a = info({ sessionId: 's1', id: 'alpha', lastSeenMs: 40, rttMs: 0.4567, rttVarMs: 0.1, rttSamples: [0.4567] });
    const first = enc.update([a], 5000);
    expect(first).toEqual({
      up: [
        {
          k: 1,
          id: 'alpha',
          tr: 'tcp',
          rem: '127.0.0.1:40000',
          st: 'alive',
          ca: null,
          since: 1000,
          lsa: 40,
          rtt: 0.46,
          rv: 0.1,
          smp: [0.46],
          iv: 200,
          to: 800,
          rc: 0,
          con: 1000,
          kn: null,
        },
      ],
      rm: [],
    });
    // 100 ms later the same last frame is 140 ms old: the absolute time did not move.
    expect(enc.update([{ ...a, lastSeenMs: 140 }], 5100)).toEqual({ up: [], rm: [] });
  });

  it('ignores the 1 ms rounding of lastSeenMs', () => {
    const enc = new StreamEncoder(CAP);
    enc.update([info({ sessionId: 's1', lastSeenMs: 40 })], 5000);
    expect(enc.update([info({ sessionId: 's1', lastSeenMs: 141 })], 5100)).toEqual({ up: [], rm: [] });
    expect(enc.update([info({ sessionId: 's1', lastSeenMs: 5 })], 5200)).toEqual({ up: [{ k: 1, lsa: 5 }], rm: [] });
  });

  it('sends a heartbeat as the new last-seen age, the new RTT and only the appended sample', () => {
    const enc = new StreamEncoder(CAP);
    const full = Array.from({ length: CAP }, (_, i) => 1 + i / 100);
    enc.update([info({ sessionId: 's1', rttMs: 1, rttVarMs: 0.5, rttSamples: full, lastSeenMs: 150 })], 5000);
    const next = [...full.slice(1), 2.5];
    expect(enc.update([info({ sessionId: 's1', rttMs: 1.19, rttVarMs: 0.5, rttSamples: next, lastSeenMs: 2 })], 5200)).toEqual({
      up: [{ k: 1, rtt: 1.19, lsa: 2, sa: [2.5] }],
      rm: [],
    });
  });

  it('sends state, cause and since on a death and freezes the silence', () => {
    const enc = new StreamEncoder(CAP);
    enc.update([info({ sessionId: 's1', lastSeenMs: 100 })], 5000);
    // Dead at 5600 after 700 ms of silence: last frame at 4900, unchanged.
    const dead = info({ sessionId: 's1', state: 'dead', cause: 'heartbeat-timeout', since: 5600, lastSeenMs: 700 });
    expect(enc.update([dead], 5700)).toEqual({ up: [{ k: 1, st: 'dead', ca: 'heartbeat-timeout', since: 5600, lsa: 800 }], rm: [] });
    expect(enc.update([dead], 9000)).toEqual({ up: [], rm: [] });
    expect(enc.full(9000)[0]?.lsa).toBe(4100);
  });

  it('sends kernel views when they change and removes sessions that left the snapshot', () => {
    const enc = new StreamEncoder(CAP);
    const kn: KernelView = { st: 'ESTABLISHED', txq: 0, rxq: 0, tmr: 'off', tmrAt: null, rtx: 0, prb: 0, ps: null, frozen: false };
    const a = info({ sessionId: 's1' });
    const b = info({ sessionId: 's2', id: 'beta' });
    enc.update([a, b], 5000);
    expect(enc.update([a, b], 5000, (i) => (i.sessionId === 's1' ? kn : null))).toEqual({ up: [{ k: 1, kn }], rm: [] });
    expect(enc.update([a, b], 5000, (i) => (i.sessionId === 's1' ? { ...kn } : null))).toEqual({ up: [], rm: [] });
    expect(enc.update([b], 5000)).toEqual({ up: [], rm: [1] });
    expect(enc.size).toBe(1);
  });

  it('counts peers by state', () => {
    const enc = new StreamEncoder(CAP);
    enc.update([info({ sessionId: 'a' }), info({ sessionId: 'b', state: 'suspect' }), info({ sessionId: 'c', state: 'dead' })], 1);
    expect(enc.counts()).toEqual({ connecting: 0, alive: 1, suspect: 1, dead: 1, closed: 0 });
  });
});

describe('diffSamples', () => {
  it.each([
    [[], [1], 3, [1]],
    [[1, 2], [1, 2, 3], 3, [3]],
    [[1, 2], [1, 2, 3, 4], 4, [3, 4]],
    [[1, 2, 3], [2, 3, 4], 3, [4]],
    [[1, 2, 3], [3, 4, 5], 3, [4, 5]],
    [[1, 1, 1], [1, 1, 1, 1], 4, [1]],
  ])('%j → %j (cap %d) appends %j', (prev, cur, cap, tail) => {
    expect(diffSamples(prev, cur, cap)).toEqual({ sa: tail });
    expect(applySamples(prev, tail, cap)).toEqual(cur);
  });

  it('replaces what cannot be reached by appending', () => {
    expect(diffSamples([5, 6], [7], 3)).toEqual({ smp: [7] });
    expect(diffSamples([1, 2], [9], 3)).toEqual({ smp: [9] });
  });

  it('is null when nothing changed', () => {
    expect(diffSamples([1, 2], [1, 2], 3)).toBeNull();
  });
});

describe('a page applying deltas', () => {
  type Op =
    | { kind: 'join'; id: number }
    | { kind: 'beat'; id: number; rtt: number; age: number }
    | { kind: 'state'; id: number; state: PeerState }
    | { kind: 'leave'; id: number }
    | { kind: 'tick'; ms: number };

  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('join' as const), id: fc.nat(7) }),
    fc.record({ kind: fc.constant('beat' as const), id: fc.nat(7), rtt: fc.integer({ min: 1, max: 400 }).map((n) => n / 7), age: fc.nat(50) }),
    fc.record({ kind: fc.constant('state' as const), id: fc.nat(7), state: fc.constantFrom<PeerState>('alive', 'suspect', 'dead', 'closed') }),
    fc.record({ kind: fc.constant('leave' as const), id: fc.nat(7) }),
    fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 400 }) }),
  );

  it('always holds what a full message would give', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const enc = new StreamEncoder(CAP);
        const page = new Map<number, PagePeer>();
        const live = new Map<number, { sessionId: string; lastSeen: number; samples: number[]; state: PeerState; since: number; rtt: number | null }>();
        let now = 10_000;
        let sessions = 0;
        for (const o of ops) {
          const p = o.kind === 'tick' ? undefined : live.get(o.id);
          if (o.kind === 'join' && p === undefined) live.set(o.id, { sessionId: `s${sessions++}`, lastSeen: now, samples: [], state: 'alive', since: now, rtt: null });
          else if (o.kind === 'beat' && p !== undefined && p.state !== 'dead' && p.state !== 'closed') {
            p.lastSeen = now - o.age;
            p.samples = [...p.samples, o.rtt].slice(-CAP);
            p.rtt = o.rtt;
          } else if (o.kind === 'state' && p !== undefined && p.state !== 'dead' && p.state !== 'closed') {
            p.state = o.state;
            p.since = now;
          } else if (o.kind === 'leave') live.delete(o.id);
          else if (o.kind === 'tick') now += o.ms;
          const snapshot = [...live.entries()].map(([id, s]) =>
            info({
              sessionId: s.sessionId,
              id: `peer-${id}`,
              state: s.state,
              since: s.since,
              rttMs: s.rtt,
              rttSamples: s.samples,
              lastSeenMs: s.state === 'dead' || s.state === 'closed' ? s.since - s.lastSeen : now - s.lastSeen,
            }),
          );
          apply(page, enc.update(snapshot, now), now);
          const expected = new Map(enc.full(now).map((f) => [f.k, decode(f, now)]));
          expect(page).toEqual(expected);
        }
      }),
      { numRuns: 300 },
    );
  });
});
