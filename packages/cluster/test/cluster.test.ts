/**
 * Three cluster nodes as separate processes on a real Redis, with Vigil clients
 * spread over them: presence agrees everywhere; a killed, frozen or partitioned node's
 * peers are declared `node-lost` by the others within lease TTL + 1 s, exactly once;
 * a node that comes back reconciles without ghosts; a Redis restart is survived;
 * send and broadcast cross nodes.
 */
import { connect, type Socket } from 'node:net';
import type { VigilClient } from '@vigil/client';
import { monotonicNow } from '@vigil/core';
import {
  FrameDecoder,
  MessageType,
  PROTOCOL_VERSION,
  decodeMessage,
  encodeFrame,
  encodeMessage,
  type ConfigError,
  type HelloMessage,
  type WelcomeMessage,
} from '@vigil/protocol';
import { VigilServer } from '@vigil/server';
import { VirtualTimeScheduler } from 'rxjs';
import { freePort, type RedisServer } from '../src/internal/redis-server.js';
import { Cluster, attachCluster, type ClusterEvent, type ClusterOptions, type ClusterPeer } from '../src/index.js';
import { NodeProcess, Teardown, TcpProxy, placement, startClient, startRedis, until, type NodeOptions } from './support/harness.js';

const LEASE_TTL_MS = 1500;
const RENEW_MS = 500;
const NODE_OPTIONS: NodeOptions = { leaseTtlMs: LEASE_TTL_MS, renewIntervalMs: RENEW_MS, rttFlushMs: 500, intervalMs: 250, timeoutMs: 2500 };
/** How long after a node stops (kill, freeze, partition) its peers must be declared lost everywhere. */
const LOST_WITHIN_MS = LEASE_TTL_MS + 1000;

jest.setTimeout(90_000);

const teardown = new Teardown();
afterEach(() => teardown.run());

interface Cluster3 {
  readonly redis: RedisServer;
  readonly nodes: NodeProcess[];
  /** Client per peer id. */
  readonly clients: Map<string, VigilClient<unknown, unknown>>;
  /** Node name per peer id: the expected presence. */
  readonly expected: Record<string, string>;
}

/** Redis, three nodes (n2 optionally through `redisUrlFor`), two clients per node (`<node>-p0`, `<node>-p1`). */
async function startCluster(redisUrlFor: (name: string, redis: RedisServer) => Promise<string> = async (_n, r) => r.url): Promise<Cluster3> {
  const redis = await startRedis(teardown);
  const nodes = await Promise.all(['n1', 'n2', 'n3'].map(async (name) => NodeProcess.start(await redisUrlFor(name, redis), name, teardown, NODE_OPTIONS)));
  const clients = new Map<string, VigilClient<unknown, unknown>>();
  const expected: Record<string, string> = {};
  await Promise.all(
    nodes.flatMap((node) =>
      [0, 1].map(async (i) => {
        const id = `${node.name}-p${i}`;
        clients.set(id, await startClient(node.url, id, teardown));
        expected[id] = node.name;
      }),
    ),
  );
  await converged(nodes, expected, 'initial presence');
  return { redis, nodes, clients, expected };
}

/** Every listed node's replica, and Redis as each reads it, show exactly `expected`. */
async function converged(nodes: readonly NodeProcess[], expected: Record<string, string>, what: string, timeoutMs = 10_000): Promise<void> {
  const want = JSON.stringify(placement(Object.entries(expected).map(([id, node]) => ({ id, node }) as ClusterPeer)));
  let last: unknown = null;
  await until(
    async () => {
      try {
        const seen = await Promise.all(nodes.flatMap((n) => [n.view(), n.peers()]));
        last = seen.map(placement);
        return seen.every((peers) => JSON.stringify(placement(peers)) === want);
      } catch (error) {
        // A node still reconnecting to Redis cannot read it yet.
        last = String(error);
        return false;
      }
    },
    `${what} on ${nodes.map((n) => n.name).join(', ')}`,
    timeoutMs,
    () => ({ want: JSON.parse(want) as unknown, seen: last }),
  );
}

function without(expected: Record<string, string>, node: string): Record<string, string> {
  return Object.fromEntries(Object.entries(expected).filter(([, n]) => n !== node));
}

/**
 * On each survivor: exactly one `node-lost` for `lost` and exactly one `dead`
 * (`node-lost`) per peer in `peers`, all within LOST_WITHIN_MS of `stoppedAt`; the same
 * events (same seq, same reaper) on every survivor. Returns the detection times.
 */
async function expectLost(survivors: readonly NodeProcess[], lost: string, peers: readonly string[], stoppedAt: number): Promise<number[]> {
  const deadFor = (n: NodeProcess) => n.received('dead').filter((r) => r.e.node === lost && r.e.cause === 'node-lost');
  await until(
    () => survivors.every((n) => deadFor(n).length >= peers.length && n.received('node-lost').some((r) => r.e.node === lost)),
    `${lost}'s peers declared node-lost on ${survivors.map((n) => n.name).join(', ')}`,
    LOST_WITHIN_MS + 5000,
  );
  const detection: number[] = [];
  for (const n of survivors) {
    const nodeLost = n.received('node-lost').filter((r) => r.e.node === lost);
    expect(nodeLost).toHaveLength(1);
    const dead = deadFor(n);
    expect(dead.map((r) => r.e.peerId).sort()).toEqual([...peers].sort());
    detection.push(Math.max(...dead.map((r) => r.at)) - stoppedAt);
  }
  // One reaper, one set of events: every survivor saw the same ones.
  const [first, ...rest] = survivors.map((n) => [n.received('node-lost').find((r) => r.e.node === lost)!.e, ...deadFor(n).map((r) => r.e)].map((e) => JSON.stringify(e)));
  for (const other of rest) expect(other).toEqual(first);
  for (const ms of detection) expect(ms).toBeLessThanOrEqual(LOST_WITHIN_MS);
  return detection;
}

test('presence is the same in every node replica and in Redis; an ended peer leaves everywhere, once', async () => {
  const { nodes, clients, expected } = await startCluster();

  for (const n of nodes) {
    const view = await n.view();
    for (const peer of view) {
      expect(peer).toMatchObject({ state: 'alive', cause: null, transport: 'tcp', sessionId: clients.get(peer.id)!.sessionId });
    }
  }
  const listed = await nodes[0]!.nodes();
  expect(listed.map((n) => [n.node, n.state, n.peers])).toEqual([
    ['n1', 'live', 2],
    ['n2', 'live', 2],
    ['n3', 'live', 2],
  ]);
  for (const n of listed) expect(n.leaseAgeMs).toBeLessThan(LEASE_TTL_MS);
  // RTTs are flushed every 500 ms and reach every replica.
  await until(async () => (await Promise.all(nodes.map((n) => n.view()))).every((v) => v.length === 6 && v.every((p) => p.rttMs !== null)), 'RTTs in every replica');

  await clients.get('n3-p1')!.close();
  const { ['n3-p1']: _gone, ...rest } = expected;
  await converged(nodes, rest, 'presence after n3-p1 closed');
  const left = nodes.map((n) => n.received('left').filter((r) => r.e.peerId === 'n3-p1'));
  for (const events of left) {
    expect(events).toHaveLength(1);
    expect(events[0]!.e).toMatchObject({ node: 'n3', cause: 'peer-close' });
  }
  expect(new Set(left.map((events) => events[0]!.e.seq)).size).toBe(1);
});

test('send reaches a peer on another node; broadcast reaches every peer of every node once', async () => {
  const { nodes, clients } = await startCluster();
  const inbox = new Map<string, unknown[]>();
  for (const [id, client] of clients) {
    inbox.set(id, []);
    client.messages$.subscribe((m) => inbox.get(id)!.push(m));
  }
  const [n1, n2] = nodes as [NodeProcess, NodeProcess, NodeProcess];

  expect(await n1.send('n3-p0', { to: 'n3-p0', via: 'redis' })).toBe(true);
  expect(await n1.send('n1-p1', { to: 'n1-p1', via: 'local' })).toBe(true);
  expect(await n1.send('nobody', { to: 'nobody' })).toBe(false);
  await until(() => inbox.get('n3-p0')!.length === 1 && inbox.get('n1-p1')!.length === 1, 'both sends delivered');
  expect(inbox.get('n3-p0')).toEqual([{ to: 'n3-p0', via: 'redis' }]);
  expect(inbox.get('n1-p1')).toEqual([{ to: 'n1-p1', via: 'local' }]);

  expect(await n2.broadcast({ all: 1, bytes: Buffer.from([1, 2, 3]) })).toBe(3);
  await until(() => [...inbox.keys()].every((id) => inbox.get(id)!.some((m) => (m as { all?: number }).all === 1)), 'the broadcast on every client');
  for (const [, messages] of inbox) {
    const got = messages.filter((m) => (m as { all?: number }).all === 1);
    expect(got).toHaveLength(1);
    expect(Buffer.from((got[0] as { bytes: Uint8Array }).bytes)).toEqual(Buffer.from([1, 2, 3]));
  }
});

test('a killed node (SIGKILL): its peers are declared node-lost by the others within lease TTL + 1 s, exactly once', async () => {
  const { nodes, expected } = await startCluster();
  const [n1, n2, n3] = nodes as [NodeProcess, NodeProcess, NodeProcess];

  const killedAt = n2.signal('SIGKILL');
  const detection = await expectLost([n1, n3], 'n2', ['n2-p0', 'n2-p1'], killedAt);
  console.log(`SIGKILL: n2's peers declared node-lost ${detection.map((ms) => ms.toFixed(0)).join(' / ')} ms after the kill (lease ${LEASE_TTL_MS} ms, renew ${RENEW_MS} ms)`);

  await converged([n1, n3], without(expected, 'n2'), 'presence without n2');
  expect((await n1.nodes()).map((n) => n.node)).toEqual(['n1', 'n3']);
});

test('a frozen node (SIGSTOP, sockets open) is declared lost; a peer that moved meanwhile stays; thawed, it reconciles without ghosts', async () => {
  const { nodes, clients, expected } = await startCluster();
  const [n1, n2, n3] = nodes as [NodeProcess, NodeProcess, NodeProcess];
  const moved = clients.get('n2-p0')!;
  const oldSession = moved.sessionId;

  const stoppedAt = n2.signal('SIGSTOP');
  // The race: n2-p0 reconnects to n1 while n2's death is not yet processed.
  await moved.close();
  const again = await startClient(n1.url, 'n2-p0', teardown);
  const detection = await expectLost([n1, n3], 'n2', ['n2-p1'], stoppedAt);
  console.log(`SIGSTOP: n2's peers declared node-lost ${detection.map((ms) => ms.toFixed(0)).join(' / ')} ms after the freeze`);

  // The newer session won: joined on n1 replacing the frozen one, and untouched by the reaping.
  for (const n of [n1, n3]) {
    const joined = n.received('joined').filter((r) => r.e.peer.id === 'n2-p0' && r.e.peer.node === 'n1');
    expect(joined).toHaveLength(1);
    expect(joined[0]!.e.replaced).toMatchObject({ node: 'n2', sessionId: oldSession });
    expect(n.received('dead').filter((r) => r.e.peerId === 'n2-p0')).toEqual([]);
  }
  const moving = { ...without(expected, 'n2'), 'n2-p0': 'n1' };
  await converged([n1, n3], moving, 'presence while n2 is frozen');

  const thawedAt = n2.signal('SIGCONT');
  // n2-p1 is back on n2 (its client reconnects or its session is re-published); n2-p0 stays on n1.
  await converged(nodes, { ...moving, 'n2-p1': 'n2' }, 'presence after n2 thawed', 15_000);
  await until(async () => (await n1.nodes()).some((n) => n.node === 'n2' && n.state === 'live'), 'n2 live again');
  expect(again.sessionId).not.toBe(oldSession);
  // No ghost: the thawed node never re-published its stale n2-p0 session.
  for (const n of nodes) {
    const ghosts = n.events.filter((r) => r.e.type === 'joined' && r.e.peer.id === 'n2-p0' && r.e.peer.node === 'n2' && r.e.peer.sessionId === oldSession && r.at > thawedAt);
    expect(ghosts).toEqual([]);
  }
});

test('a node cut off from Redis is declared lost; healed, its live peers reappear with their sessions and ended ones do not', async () => {
  let proxy: TcpProxy | null = null;
  const { nodes, clients, expected } = await startCluster(async (name, redis) => {
    if (name !== 'n2') return redis.url;
    proxy = await TcpProxy.start(redis.port, teardown);
    return proxy.url;
  });
  const [n1, n2, n3] = nodes as [NodeProcess, NodeProcess, NodeProcess];
  const survivor = clients.get('n2-p1')!;
  const session = survivor.sessionId;

  const cutAt = monotonicCut(proxy!);
  const detection = await expectLost([n1, n3], 'n2', ['n2-p0', 'n2-p1'], cutAt);
  console.log(`partition: n2's peers declared node-lost ${detection.map((ms) => ms.toFixed(0)).join(' / ')} ms after the cut`);
  await until(async () => (await n2.status()).state === 'degraded', 'n2 degraded');
  // A peer ends during the partition; n2 cannot tell the cluster yet.
  await clients.get('n2-p0')!.close();
  await converged([n1, n3], without(expected, 'n2'), 'presence during the partition');

  proxy!.heal();
  const healed = { ...without(expected, 'n2'), 'n2-p1': 'n2' };
  await converged(nodes, healed, 'presence after the partition healed', 15_000);
  const back = (await n1.view()).find((p) => p.id === 'n2-p1')!;
  expect(back.sessionId).toBe(session);
  expect(survivor.reconnects).toBe(0);
  expect((await n1.view()).find((p) => p.id === 'n2-p0')).toBeUndefined();
  await until(async () => (await n2.status()).state === 'active', 'n2 active again');
});

test('Redis restarted mid-run (data gone): every node reconnects and presence is rebuilt, nobody declared lost', async () => {
  const { redis, nodes, clients, expected } = await startCluster();
  const sessions = Object.fromEntries([...clients].map(([id, c]) => [id, c.sessionId]));

  await redis.restart();
  const restartedAt = monotonicNow();
  await converged(nodes, expected, 'presence rebuilt after the Redis restart', 15_000);
  console.log(`Redis restart: presence rebuilt in every replica and in Redis ${(monotonicNow() - restartedAt).toFixed(0)} ms after Redis was back`);
  for (const n of nodes) {
    for (const peer of await n.view()) expect(peer.sessionId).toBe(sessions[peer.id]);
    expect(n.received('node-lost')).toEqual([]);
    expect(n.received('dead')).toEqual([]);
  }
  await until(async () => (await nodes[0]!.nodes()).filter((n) => n.state === 'live').length === 3, 'three live nodes');
  await until(async () => (await Promise.all(nodes.map((n) => n.status()))).every((s) => s.state === 'active'), 'every node active');

  // And the cluster still works: a new peer shows up everywhere.
  await startClient(nodes[2]!.url, 'late', teardown);
  await converged(nodes, { ...expected, late: 'n3' }, 'presence with a peer that joined after the restart');
});

function monotonicCut(proxy: TcpProxy): number {
  proxy.cut();
  return monotonicNow();
}

describe('attachCluster in one process', () => {
  const urls = new WeakMap<VigilServer<unknown, unknown>, string>();

  async function server(): Promise<VigilServer<unknown, unknown>> {
    const s = new VigilServer<unknown, unknown>({ tcp: { port: 0 } });
    teardown.add(() => s.close());
    urls.set(s, `tcp://127.0.0.1:${(await s.listen()).tcp!}`);
    return s;
  }

  async function attach(s: VigilServer<unknown, unknown>, options: ClusterOptions): Promise<Cluster<unknown>> {
    const cluster = await attachCluster(s, options);
    teardown.add(() => cluster.close());
    return cluster;
  }

  test('refuses bad options with a ConfigError naming the option', async () => {
    const s = await server();
    const codeOf = (options: ClusterOptions): unknown => {
      try {
        new Cluster(s, options);
        return null;
      } catch (error) {
        return [(error as ConfigError).code, (error as ConfigError).field];
      }
    };
    expect(codeOf({ node: 'has space' })).toEqual(['ERR_VIGIL_INVALID_CONFIG', 'node']);
    expect(codeOf({ node: 'a', leaseTtlMs: 1000, renewIntervalMs: 600 })).toEqual(['ERR_VIGIL_INVALID_CONFIG', 'renewIntervalMs']);
    expect(codeOf({ node: 'a', leaseTtlMs: 5000, tombstoneMs: 1000 })).toEqual(['ERR_VIGIL_INVALID_CONFIG', 'tombstoneMs']);
    expect(codeOf({ node: 'a', namespace: 'x{y}' })).toEqual(['ERR_VIGIL_INVALID_CONFIG', 'namespace']);
  });

  test('rejects with ERR_VIGIL_NOT_CONNECTED when Redis is unreachable', async () => {
    const s = await server();
    const port = await freePort();
    await expect(attachCluster(s, { node: 'a', redisUrl: `redis://127.0.0.1:${port}`, startTimeoutMs: 600 })).rejects.toMatchObject({ code: 'ERR_VIGIL_NOT_CONNECTED' });
  });

  test('rejects with ERR_VIGIL_REJECTED while a live node holds the name; the holder is unaffected', async () => {
    const redis = await startRedis(teardown);
    const first = await attach(await server(), { node: 'same', redisUrl: redis.url, leaseTtlMs: 1000, renewIntervalMs: 250 });
    await expect(attachCluster(await server(), { node: 'same', redisUrl: redis.url, leaseTtlMs: 1000, renewIntervalMs: 250, startTimeoutMs: 1500 })).rejects.toMatchObject({
      code: 'ERR_VIGIL_REJECTED',
    });
    expect(first.status.state).toBe('active');
    expect((await first.nodes()).map((n) => [n.node, n.incarnation.length > 0, n.state])).toEqual([['same', true, 'live']]);
  });

  test('the lease is renewed on the injected scheduler: virtual time stopped, the lease runs out and another node declares it lost', async () => {
    const redis = await startRedis(teardown);
    const scheduler = new VirtualTimeScheduler();
    const advance = (ms: number): void => {
      scheduler.maxFrames = scheduler.frame + ms;
      scheduler.flush();
      scheduler.frame = scheduler.maxFrames;
    };
    const attaching = attachCluster(await server(), { node: 'virtual', redisUrl: redis.url, leaseTtlMs: 1000, renewIntervalMs: 250, scheduler });
    advance(0);
    const virtual = await attaching;
    teardown.add(() => virtual.close());
    const watcher = await attach(await server(), { node: 'watcher', redisUrl: redis.url, leaseTtlMs: 1000, renewIntervalMs: 250 });
    const lost: ClusterEvent[] = [];
    watcher.events$.subscribe((e) => (e.type === 'node-lost' ? lost.push(e) : undefined));
    const leaseLeft = async (): Promise<number> => (await watcher.nodes()).find((n) => n.node === 'virtual')?.leaseLeftMs ?? -1;

    // Real time passes, virtual time does not: no renewal.
    await until(async () => (await leaseLeft()) < 700, 'the lease to run down');
    advance(250);
    await until(async () => (await leaseLeft()) > 900, 'a renewal after 250 virtual ms');
    await until(() => lost.length === 1, 'virtual declared lost', 3000);
    expect(lost[0]).toMatchObject({ node: 'virtual', by: 'watcher' });
  });

  test('close() leaves in order: peers left with goaway, the node gone at once; then calls reject', async () => {
    const redis = await startRedis(teardown);
    const s = await server();
    const leaving = await attach(s, { node: 'leaving', redisUrl: redis.url });
    const staying = await attach(await server(), { node: 'staying', redisUrl: redis.url });
    await startClient(urls.get(s)!, 'p', teardown);
    await until(() => staying.locate('p')?.node === 'leaving', 'p seen on staying');
    const seen: ClusterEvent[] = [];
    staying.events$.subscribe((e) => seen.push(e));

    await leaving.close();
    await until(() => seen.some((e) => e.type === 'node-left'), 'node-left');
    expect(seen.map((e) => [e.type, 'cause' in e ? e.cause : null])).toEqual([
      ['left', 'goaway'],
      ['node-left', null],
    ]);
    expect(staying.view()).toEqual([]);
    expect((await staying.nodes()).map((n) => n.node)).toEqual(['staying']);
    expect(leaving.status.state).toBe('closed');
    await expect(leaving.send('p', 1)).rejects.toMatchObject({ code: 'ERR_VIGIL_CLOSED' });
  });

  test('a session the server holds for resume shows suspect while detached, alive once resumed, dead (resume-expired) when not', async () => {
    const redis = await startRedis(teardown);
    const s = new VigilServer<unknown, unknown>({ tcp: { port: 0 }, resume: { windowMs: 400 } });
    teardown.add(() => s.close());
    const port = (await s.listen()).tcp!;
    const cluster = await attach(s, { node: 'r', redisUrl: redis.url });
    const events: ClusterEvent[] = [];
    cluster.events$.subscribe((e) => events.push(e));

    const first = await RawSession.open(port, { type: MessageType.Hello, version: PROTOCOL_VERSION, clientId: 'resumer', options: {} }, teardown);
    expect(first.welcome.options.resumeWindow).toBe(400);
    const sessionId = first.welcome.sessionId;
    await until(() => cluster.locate('resumer')?.state === 'alive', 'resumer alive');

    first.socket.destroy();
    await until(() => cluster.locate('resumer')?.state === 'suspect', 'resumer suspect while detached');
    expect(cluster.locate('resumer')).toMatchObject({ sessionId, cause: 'closed-by-peer' });

    const second = await RawSession.open(port, { type: MessageType.Hello, version: PROTOCOL_VERSION, clientId: 'resumer', options: { resume: { session: sessionId, ack: 0 } } }, teardown);
    expect(second.welcome).toMatchObject({ sessionId, options: { resumed: true } });
    await until(() => cluster.locate('resumer')?.state === 'alive', 'resumer alive again');
    expect(cluster.locate('resumer')?.sessionId).toBe(sessionId);

    second.socket.destroy();
    await until(() => cluster.locate('resumer') === undefined, 'resumer gone after the window');
    expect(events.filter((e) => e.type !== 'rtt' && e.type !== 'node-joined').map((e) => [e.type, 'cause' in e ? e.cause : null])).toEqual([
      ['joined', null],
      ['suspect', 'closed-by-peer'],
      ['recovered', null],
      ['suspect', 'closed-by-peer'],
      ['dead', 'resume-expired'],
    ]);
  });
});

/** A hand-driven Vigil client over raw TCP: sends one hello, keeps the welcome, answers nothing else. */
class RawSession {
  private constructor(
    readonly socket: Socket,
    readonly welcome: WelcomeMessage,
  ) {}

  static open(port: number, hello: HelloMessage, teardown: Teardown): Promise<RawSession> {
    const socket = connect({ host: '127.0.0.1', port });
    teardown.add(() => socket.destroy());
    const decoder = new FrameDecoder();
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.once('connect', () => socket.write(encodeFrame(encodeMessage(hello))));
      socket.on('data', (chunk: Buffer) => {
        for (const payload of decoder.push(chunk)) {
          const m = decodeMessage(payload);
          if (m.type === MessageType.Welcome) resolve(new RawSession(socket, m));
        }
      });
    });
  }
}
