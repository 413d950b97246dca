/**
 * The Lua scripts against a real Redis, without Vigil nodes: fencing by lease token,
 * the newest session of a peer id wins (epochs and tombstones), a lost node is cleaned
 * up exactly once however many nodes race for it, and the event stream is dense.
 */
import { Redis } from 'ioredis';
import { Keys } from '../src/internal/keys.js';
import { PresenceStore, parseEvent, type PeerEntry } from '../src/internal/presence-store.js';
import type { RedisServer } from '../src/internal/redis-server.js';
import type { ClusterEvent } from '../src/index.js';
import { Teardown, startRedis, until } from './support/harness.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

let redis: RedisServer;
let events: ClusterEvent[];

function connectTo(url: string): Redis {
  const r = new Redis(url, { maxRetriesPerRequest: 0 });
  teardown.add(() => r.quit());
  return r;
}

beforeEach(async () => {
  redis = await startRedis(teardown);
  events = [];
  const sub = connectTo(redis.url);
  sub.on('message', (_channel: string, raw: string) => events.push(parseEvent(raw)!));
  await sub.subscribe(new Keys('t').events);
});

function store(): PresenceStore {
  return new PresenceStore(connectTo(redis.url), new Keys('t'), 60_000);
}

function entry(id: string, sessionId: string): PeerEntry {
  return { id, sessionId, state: 'alive', cause: null, transport: 'tcp', remote: '127.0.0.1:9', connectedAt: 1, since: 1, rttMs: null };
}

async function node(s: PresenceStore, name: string, ttlMs = 10_000): Promise<string> {
  const incarnation = `${name}-inc`;
  const r = await s.acquire(name, incarnation, ttlMs, { node: name, incarnation, host: 'h', pid: 1, startedAt: 1, leaseTtlMs: ttlMs });
  expect(r.ok).toBe(true);
  return incarnation;
}

test('a lease is exclusive; writes with a token that is not the lease holder are refused', async () => {
  const s = store();
  const inc = await node(s, 'a');
  expect(await s.acquire('a', 'other', 10_000, { node: 'a', incarnation: 'other', host: 'h', pid: 2, startedAt: 1, leaseTtlMs: 10_000 })).toMatchObject({ ok: false, holder: inc });
  expect(await s.upsert('a', 'other', entry('p', 's1'), null)).toEqual({ kind: 'nolease' });
  expect(await s.upsert('a', inc, entry('p', 's1'), null)).toEqual({ kind: 'ok', epoch: 1 });
  expect(await s.end('a', 'other', 'p', 's1', 'dead', 'reset')).toEqual({ kind: 'nolease' });
  expect(await s.renew('a', 'other', 10_000)).toMatchObject({ held: false });
  expect(await s.renew('a', inc, 10_000)).toMatchObject({ held: true });
});

test('the newest session of a peer id wins: a stale node can neither end nor re-publish over it', async () => {
  const s = store();
  const a = await node(s, 'a');
  const b = await node(s, 'b');
  expect(await s.upsert('a', a, entry('p', 'old'), null)).toEqual({ kind: 'ok', epoch: 1 });
  // The peer reconnects to b while a is still holding its old session.
  expect(await s.upsert('b', b, entry('p', 'new'), null)).toEqual({ kind: 'ok', epoch: 2 });
  expect(await s.end('a', a, 'p', 'old', 'dead', 'heartbeat-timeout')).toEqual({ kind: 'stale' });
  expect(await s.update('a', a, 'p', 'old', 'suspect', 'heartbeat-timeout', 5)).toEqual({ kind: 'stale' });
  expect(await s.upsert('a', a, entry('p', 'old'), 1)).toEqual({ kind: 'stale', epoch: 2 });
  expect((await s.snapshot()).peers).toMatchObject([{ id: 'p', node: 'b', sessionId: 'new', epoch: 2 }]);
  expect(await s.owned('a')).toEqual([]);
  // The newer session ends: its tombstone still refuses the older one.
  expect(await s.end('b', b, 'p', 'new', 'closed', 'peer-close')).toEqual({ kind: 'ok' });
  expect(await s.upsert('a', a, entry('p', 'old'), 1)).toEqual({ kind: 'stale', epoch: 2 });
  // A new session is always accepted.
  expect(await s.upsert('a', a, entry('p', 'newest'), null)).toEqual({ kind: 'ok', epoch: 3 });
  await until(() => events.length === 6, 'six events');
  expect(events.map((e) => [e.seq, e.type])).toEqual([
    [1, 'node-joined'],
    [2, 'node-joined'],
    [3, 'joined'],
    [4, 'joined'],
    [5, 'left'],
    [6, 'joined'],
  ]);
  expect(events[3]).toMatchObject({ replaced: { node: 'a', sessionId: 'old', epoch: 1 } });
});

test('a re-published session keeps its epoch and raises the counter past it (Redis restarted empty)', async () => {
  const s = store();
  const a = await node(s, 'a');
  expect(await s.upsert('a', a, entry('p', 's'), 41)).toEqual({ kind: 'ok', epoch: 41 });
  expect(await s.upsert('a', a, entry('q', 't'), null)).toEqual({ kind: 'ok', epoch: 42 });
  // Re-publishing a present session changes nothing but its fields (no event unless the state changed).
  expect(await s.upsert('a', a, { ...entry('p', 's'), state: 'suspect', cause: 'heartbeat-timeout' }, 41)).toEqual({ kind: 'ok', epoch: 41 });
  await until(() => events.length === 4, 'four events');
  expect(events.map((e) => e.type)).toEqual(['node-joined', 'joined', 'joined', 'suspect']);
});

test('an expired lease is cleaned up exactly once, however many nodes race to do it', async () => {
  const s = store();
  const dying = await node(s, 'dying', 200);
  for (let i = 0; i < 25; i++) expect((await s.upsert('dying', dying, entry(`p${i}`, `s${i}`), null)).kind).toBe('ok');
  const reapers = await Promise.all(['r1', 'r2', 'r3', 'r4'].map(async (name) => ({ name, s: store(), inc: await node(s, name) })));
  await until(async () => (await s.nodes()).find((n) => n.node === 'dying')?.state === 'expired', 'the lease to expire', 5000);

  const results = await Promise.all(reapers.map((r) => r.s.reap(r.name, 7)));
  // Budget 7 per call: whoever announced the loss, the rest is finished by further calls.
  for (let more = results.some((r) => r.more); more; ) more = (await reapers[0]!.s.reap('r1', 7)).more;
  expect(results.flatMap((r) => r.lost)).toEqual(['dying']);

  await until(() => events.filter((e) => e.type === 'dead').length === 25, '25 dead events', 5000);
  const lost = events.filter((e) => e.type === 'node-lost');
  expect(lost).toHaveLength(1);
  expect(lost[0]).toMatchObject({ node: 'dying', incarnation: dying, peers: 25 });
  const dead = events.filter((e): e is Extract<ClusterEvent, { type: 'dead' }> => e.type === 'dead');
  expect(new Set(dead.map((e) => e.peerId)).size).toBe(25);
  for (const e of dead) expect(e).toMatchObject({ node: 'dying', cause: 'node-lost' });
  expect((await s.snapshot()).peers).toEqual([]);
  expect((await s.nodes()).map((n) => n.node)).toEqual(['r1', 'r2', 'r3', 'r4']);
  // Dense and ordered: nothing lost, nothing twice.
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
});

test('a node that takes its lease back before anyone noticed is not reaped', async () => {
  const s = store();
  const inc = await node(s, 'a', 150);
  await s.upsert('a', inc, entry('p', 's'), null);
  await until(async () => (await s.nodes())[0]?.state === 'expired', 'the lease to expire', 5000);
  const again = await s.acquire('a', 'a-2', 10_000, { node: 'a', incarnation: 'a-2', host: 'h', pid: 1, startedAt: 1, leaseTtlMs: 10_000 });
  expect(again.ok).toBe(true);
  expect(await s.reap('b', 100)).toEqual({ lost: [], more: false });
  expect((await s.owned('a')).map((p) => p.sessionId)).toEqual(['s']);
});

test('leave removes every peer as left, then the node and its lease', async () => {
  const s = store();
  const inc = await node(s, 'a');
  for (let i = 0; i < 5; i++) await s.upsert('a', inc, entry(`p${i}`, `s${i}`), null);
  expect(await s.leave('a', inc, 'goaway', 2)).toBe('done');
  expect((await s.snapshot()).peers).toEqual([]);
  expect(await s.nodes()).toEqual([]);
  await until(() => events.some((e) => e.type === 'node-left'), 'node-left');
  const left = events.filter((e) => e.type === 'left');
  expect(left).toHaveLength(5);
  for (const e of left) expect(e).toMatchObject({ cause: 'goaway' });
  expect(await s.leave('a', inc, 'goaway')).toBe('nolease');
});

test('rtt updates only the sessions that still hold their entries, in one event', async () => {
  const s = store();
  const inc = await node(s, 'a');
  await s.upsert('a', inc, entry('p', 's'), null);
  expect(await s.rtt('a', inc, [['p', 's', 1.25], ['p', 'gone', 9], ['q', 'x', 3]])).toEqual({ kind: 'ok' });
  expect((await s.snapshot()).peers[0]).toMatchObject({ rttMs: 1.25 });
  await until(() => events.some((e) => e.type === 'rtt'), 'rtt event');
  expect(events.find((e) => e.type === 'rtt')).toMatchObject({ samples: [['p', 's', 1.25]] });
});
