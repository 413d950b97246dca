/**
 * How much presence traffic one Redis holds: N simulated nodes (each its own connection,
 * lease and event subscriber, exactly as `Cluster` uses them) with M peers in all,
 * driven through the real Lua scripts. Per (N, M): joins/s, liveness updates/s
 * (suspect ⇄ recovered, each one event fanned out to N subscribers), RTT entries/s,
 * the time to clean up a lost node, and Redis memory per peer. Redis's own CPU time is
 * read from INFO, so a figure limited by this client rather than by Redis shows it.
 *
 * Usage: pnpm bench:cluster [--nodes 1,3,10] [--peers 1000,10000] [--seconds 3] [--depth 32] [--redis URL]
 * Without --redis a throwaway redis-server is started on a free loopback port.
 * Bounded: at most 64 nodes, 1,000,000 peers and 30 s per liveness run; progress goes
 * to stderr after every phase, the table to stdout at the end; any failure exits 1.
 */
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { Keys } from '../src/internal/keys.js';
import { PresenceStore, type PeerEntry } from '../src/internal/presence-store.js';
import { RedisServer } from '../src/internal/redis-server.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1,3,10' },
    peers: { type: 'string', default: '1000,10000' },
    seconds: { type: 'string', default: '3' },
    depth: { type: 'string', default: '32' },
    redis: { type: 'string' },
  },
});
/** A comma-separated list of whole numbers from `min` to `max`; exits 2 on anything else. */
function list(flag: string, raw: string, min: number, max: number): number[] {
  const out = raw.split(',').map(Number);
  if (out.some((n) => !Number.isInteger(n) || n < min || n > max)) usage(`--${flag} must be a comma-separated list of whole numbers from ${min} to ${max}, got "${raw}"`);
  return out;
}

function usage(message: string): never {
  process.stderr.write(`bench:cluster: ${message}\n`);
  process.exit(2);
}

const NODES = list('nodes', values.nodes, 1, 64);
const PEERS = list('peers', values.peers, 1, 1_000_000);
const [SECONDS = 3] = list('seconds', values.seconds, 1, 30);
/** Script calls in flight per simulated node. */
const [DEPTH = 32] = list('depth', values.depth, 1, 1024);
for (const m of PEERS) for (const n of NODES) if (m < n) usage(`every --peers value must be at least every --nodes value (${m} peers over ${n} nodes)`);

function progress(line: string): void {
  process.stderr.write(`[bench:cluster] ${line}\n`);
}

async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string): number => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
}

function entry(id: string): PeerEntry {
  return { id, sessionId: `${id}-session-0000-0000-000000000000`, state: 'alive', cause: null, transport: 'ws', remote: '10.0.0.1:54321', connectedAt: Date.now(), since: Date.now(), rttMs: 1.234 };
}

/** Runs `total` calls of `op` with `depth` in flight; resolves with the elapsed ms. */
async function pump(total: number, depth: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(depth, total) }, async () => {
      while (next < total) await op(next++);
    }),
  );
  return performance.now() - start;
}

/** Runs `op` with `depth` in flight for `ms`; resolves with the calls completed and the elapsed ms. */
async function pumpFor(ms: number, depth: number, op: (i: number) => Promise<unknown>): Promise<{ calls: number; ms: number }> {
  const start = performance.now();
  let calls = 0;
  await Promise.all(
    Array.from({ length: depth }, async () => {
      while (performance.now() - start < ms) await op(calls++);
    }),
  );
  return { calls, ms: performance.now() - start };
}

interface Row {
  nodes: number;
  peers: number;
  joinsPerS: number;
  updatesPerS: number;
  updateRedisCpu: number;
  /** Redis CPU µs per liveness update (the script, its event, the fan-out to N subscribers). */
  redisUsPerUpdate: number;
  eventsDeliveredPerS: number;
  rttPerS: number;
  reapMs: number;
  bytesPerPeer: number;
}

async function run(url: string, n: number, m: number): Promise<Row> {
  const namespace = `bench-${n}-${m}-${Date.now()}`;
  const keys = new Keys(namespace);
  const admin = new Redis(url);
  const connections: Redis[] = [admin];
  const memoryBefore = await usedMemory(admin);
  const nodes = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const redis = new Redis(url);
      const sub = new Redis(url);
      connections.push(redis, sub);
      const store = new PresenceStore(redis, keys, 60_000);
      const name = `node-${i}`;
      const incarnation = `${name}-inc`;
      const got = await store.acquire(name, incarnation, 600_000, { node: name, incarnation, host: 'bench', pid: process.pid, startedAt: Date.now(), leaseTtlMs: 600_000 });
      if (!got.ok) throw new Error('lease not acquired');
      const counter = { events: 0 };
      sub.on('message', () => counter.events++);
      await sub.subscribe(keys.events);
      const ids = Array.from({ length: Math.floor(m / n) + (i < m % n ? 1 : 0) }, (_, k) => `peer-${i}-${k}`);
      return { name, incarnation, store, counter, ids, state: new Map<string, 'alive' | 'suspect'>() };
    }),
  );
  const delivered = (): number => nodes.reduce((sum, node) => sum + node.counter.events, 0);

  // Joins: every peer once.
  const joinMs = Math.max(...(await Promise.all(nodes.map((node) => pump(node.ids.length, DEPTH, (k) => node.store.upsert(node.name, node.incarnation, entry(node.ids[k]!), null))))));
  const joinsPerS = (m / joinMs) * 1000;
  const bytesPerPeer = ((await usedMemory(admin)) - memoryBefore) / m;
  progress(`N=${n} M=${m}: ${m} joins in ${joinMs.toFixed(0)} ms (${joinsPerS.toFixed(0)}/s), ${bytesPerPeer.toFixed(0)} B/peer in Redis`);

  // Liveness updates: suspect ⇄ recovered on random peers, for SECONDS.
  const cpu0 = await redisCpuMs(admin);
  const delivered0 = delivered();
  const runs = await Promise.all(
    nodes.map((node) =>
      pumpFor(SECONDS * 1000, DEPTH, () => {
        const id = node.ids[Math.floor(Math.random() * node.ids.length)]!;
        const to = node.state.get(id) === 'suspect' ? 'alive' : 'suspect';
        node.state.set(id, to);
        return node.store.update(node.name, node.incarnation, id, `${id}-session-0000-0000-000000000000`, to, to === 'suspect' ? 'heartbeat-timeout' : null, Date.now());
      }),
    ),
  );
  const updates = runs.reduce((sum, r) => sum + r.calls, 0);
  const wallMs = Math.max(...runs.map((r) => r.ms));
  const cpuMs = (await redisCpuMs(admin)) - cpu0;
  // Let the last events reach the subscribers before counting them.
  await new Promise((r) => setTimeout(r, 200));
  const updatesPerS = (updates / wallMs) * 1000;
  const eventsDeliveredPerS = ((delivered() - delivered0) / wallMs) * 1000;
  progress(
    `N=${n} M=${m}: ${updates} updates in ${wallMs.toFixed(0)} ms (${updatesPerS.toFixed(0)}/s, Redis CPU ${((cpuMs / wallMs) * 100).toFixed(0)} %, ` +
      `${((cpuMs * 1000) / updates).toFixed(1)} µs each, ${eventsDeliveredPerS.toFixed(0)} events/s delivered)`,
  );

  // RTT flush: every peer's RTT, in batches of 500 like Cluster.
  const batches = nodes.flatMap((node) => {
    const out: [string, string, number][][] = [];
    for (let k = 0; k < node.ids.length; k += 500) out.push(node.ids.slice(k, k + 500).map((id) => [id, `${id}-session-0000-0000-000000000000`, 2.5]));
    return out.map((samples) => ({ node, samples }));
  });
  const rttMs = await pump(batches.length, DEPTH, (k) => batches[k]!.node.store.rtt(batches[k]!.node.name, batches[k]!.node.incarnation, batches[k]!.samples));
  const rttPerS = (m / rttMs) * 1000;
  progress(`N=${n} M=${m}: ${m} RTTs in ${rttMs.toFixed(0)} ms (${rttPerS.toFixed(0)}/s)`);

  // A node lost: its lease gone, another node cleans up its M/N peers.
  const victim = nodes[0]!;
  const reaper = nodes[n - 1]!;
  await admin.del(keys.lease(victim.name));
  const reapStart = performance.now();
  while ((await reaper.store.reap(reaper.name, 1000)).more);
  const reapMs = performance.now() - reapStart;
  progress(`N=${n} M=${m}: node with ${victim.ids.length} peers cleaned up in ${reapMs.toFixed(0)} ms`);

  for (const node of nodes.slice(n > 1 ? 1 : 0)) await node.store.leave(node.name, node.incarnation, 'goaway').catch(() => undefined);
  await admin.del(keys.seq, keys.epoch, keys.peers, keys.nodes);
  await Promise.all(connections.map((c) => c.quit()));
  return { nodes: n, peers: m, joinsPerS, updatesPerS, updateRedisCpu: cpuMs / wallMs, redisUsPerUpdate: (cpuMs * 1000) / updates, eventsDeliveredPerS, rttPerS, reapMs, bytesPerPeer };
}

const own = values.redis === undefined ? await RedisServer.start() : null;
const url = values.redis ?? own!.url;
progress(`Redis at ${url}${own ? ' (started for the bench)' : ''}; ${SECONDS} s per liveness run, ${DEPTH} calls in flight per node`);
const rows: Row[] = [];
try {
  for (const m of PEERS) for (const n of NODES) rows.push(await run(url, n, m));
} catch (error) {
  // A run that failed midway leaves connections that would retry forever: stop here.
  process.stderr.write(`bench:cluster failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  await own?.stop();
  process.exit(1);
}
await own?.stop();

const f = (x: number): string => Math.round(x).toLocaleString('en-US');
console.log(
  '| nodes | peers | joins/s | liveness updates/s | Redis CPU | Redis µs/update | ceiling, one Redis core (updates/s) | events delivered/s | RTT entries/s | lost node cleanup | Redis bytes/peer |',
);
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.nodes} | ${f(r.peers)} | ${f(r.joinsPerS)} | ${f(r.updatesPerS)} | ${(r.updateRedisCpu * 100).toFixed(0)} % | ${r.redisUsPerUpdate.toFixed(1)} | ${f(1e6 / r.redisUsPerUpdate)} | ${f(r.eventsDeliveredPerS)} | ${f(r.rttPerS)} | ${f(r.reapMs)} ms (${f(r.peers / r.nodes)} peers) | ${f(r.bytesPerPeer)} |`,
  );
}
