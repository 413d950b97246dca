/**
 * The clustered demo, one command: `pnpm demo:cluster [--redis URL] [--seconds N]`.
 * Uses the Redis at --redis (default redis://127.0.0.1:6379) or, if none answers,
 * starts a throwaway redis-server; runs three nodes as processes with six clients
 * spread over them, and prints what each node sees every second while it sends across
 * nodes, broadcasts, kills node-2 (its peers go `node-lost` everywhere) and restarts it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { VigilClient } from '@vigil/client';
import { REDIS_INSTALL_HINT, RedisServer, redisServerInstalled, waitForRedis } from './internal/redis-server.js';
import type { ClusterEvent, ClusterNode, ClusterPeer, ClusterStatus } from './types.js';

const { values } = parseArgs({ options: { redis: { type: 'string', default: 'redis://127.0.0.1:6379' }, seconds: { type: 'string', default: '16' } } });
/** How long the demo runs, s: the scripted failures need 12; at most an hour. */
const SECONDS = Number(values.seconds);
if (!Number.isInteger(SECONDS) || SECONDS < 12 || SECONDS > 3600) {
  process.stderr.write(`demo:cluster: --seconds must be a whole number from 12 to 3600, got "${values.seconds}"\n`);
  process.exit(2);
}
const NODE_SCRIPT = fileURLToPath(new URL('./demo-node.ts', import.meta.url));
const NAMES = ['node-1', 'node-2', 'node-3'] as const;
const PEOPLE = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
const start = Date.now();
const t = (): string => `${((Date.now() - start) / 1000).toFixed(1).padStart(5)}s`;
const say = (line: string): boolean => process.stdout.write(`${t()}  ${line}\n`);

interface NodeState {
  child: ChildProcess | null;
  tcp: number;
  http: number;
  view: ClusterPeer[];
  nodes: ClusterNode[];
  status: ClusterStatus | null;
}
const nodes = new Map<string, NodeState>();
const clients: VigilClient<unknown, unknown>[] = [];
let redis: RedisServer | null = null;
let killedAt = 0;

async function redisUrl(): Promise<string> {
  try {
    await waitForRedis(values.redis, 500);
    say(`using the Redis at ${values.redis}`);
    return values.redis;
  } catch {
    if (!redisServerInstalled()) {
      process.stderr.write(`no Redis answers at ${values.redis}, and redis-server is not installed: ${REDIS_INSTALL_HINT}\n`);
      process.exit(1);
    }
    redis = await RedisServer.start();
    say(`no Redis at ${values.redis}; started redis-server at ${redis.url}`);
    return redis.url;
  }
}

function describe(e: ClusterEvent): string | null {
  switch (e.type) {
    case 'joined':
      return `${e.peer.id} joined on ${e.peer.node}${e.replaced ? ` (replacing its session on ${e.replaced.node})` : ''}`;
    case 'dead':
      return `${e.peerId} dead on ${e.node} (${e.cause ?? '?'}${e.by ? `, declared by ${e.by}` : ''})${e.cause === 'node-lost' ? `, ${Date.now() - killedAt} ms after the kill` : ''}`;
    case 'left':
      return `${e.peerId} left ${e.node} (${e.cause ?? '?'})`;
    case 'suspect':
    case 'recovered':
      return `${e.peerId} ${e.type} on ${e.node}`;
    case 'node-joined':
      return `${e.node} joined the cluster`;
    case 'node-lost':
      return `${e.node} LOST: lease expired, noticed by ${e.by} ${Date.now() - killedAt} ms after the kill; its ${e.peers} peers follow as dead/node-lost`;
    case 'node-left':
      return `${e.node} left the cluster`;
    case 'rtt':
      return null;
  }
}

function startNode(url: string, name: string, port = 0): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', NODE_SCRIPT, url, name, String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const state: NodeState = { child, tcp: 0, http: 0, view: [], nodes: [], status: null };
  nodes.set(name, state);
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`${name} exited (${code ?? signal})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { event: string; tcp?: number; http?: number; view?: ClusterPeer[]; nodes?: ClusterNode[]; status?: ClusterStatus; e?: ClusterEvent; result?: unknown };
      if (msg.event === 'ready') {
        state.tcp = msg.tcp!;
        state.http = msg.http!;
        resolve();
      } else if (msg.event === 'view') {
        state.view = msg.view!;
        state.nodes = msg.nodes!;
        state.status = msg.status!;
      } else if (msg.event === 'cluster' && name === observer()) {
        const text = describe(msg.e!);
        if (text !== null) say(`[event seen by ${name}] ${text}`);
      }
    });
  });
}

/** Events are printed as one live node sees them (they are the same on every node). */
function observer(): string {
  return [...nodes].find(([, s]) => s.child !== null)?.[0] ?? 'node-1';
}

function command(name: string, cmd: unknown): void {
  nodes.get(name)?.child?.stdin?.write(`${JSON.stringify(cmd)}\n`);
}

function frame(): void {
  const live = NAMES.filter((n) => nodes.get(n)?.child);
  const seen = nodes.get(observer())!;
  const leases = seen.nodes.map((n) => `${n.node} ${n.state} (lease renewed ${n.leaseAgeMs} ms ago, ${n.peers} peers)`).join(' · ');
  say(`nodes per ${observer()}: ${leases || '…'}`);
  const header = ['peer'.padEnd(7), ...live.map((n) => `${n} sees`.padEnd(24))].join(' ');
  process.stdout.write(`         ${header}\n`);
  const ids = [...new Set(live.flatMap((n) => nodes.get(n)!.view.map((p) => p.id)))].sort();
  for (const id of ids) {
    const cells = live.map((n) => {
      const p = nodes.get(n)!.view.find((v) => v.id === id);
      return (p ? `${p.node} ${p.state} ${p.rttMs === null ? '' : `${p.rttMs.toFixed(1)}ms`}` : '—').padEnd(24);
    });
    process.stdout.write(`         ${id.padEnd(7)} ${cells.join(' ')}\n`);
  }
}

async function main(): Promise<void> {
  const url = await redisUrl();
  await Promise.all(NAMES.map((n) => startNode(url, n)));
  say(`three nodes up: ${NAMES.map((n) => `${n} on tcp ${nodes.get(n)!.tcp}`).join(', ')}`);
  say(`dashboards (every node's peers, a Node column, the node list with lease ages): ${NAMES.map((n) => `${n} http://127.0.0.1:${nodes.get(n)!.http}/`).join('  ')}`);
  for (const [i, id] of PEOPLE.entries()) {
    const node = NAMES[i % 3]!;
    const client = new VigilClient<unknown, unknown>(`tcp://127.0.0.1:${nodes.get(node)!.tcp}`, { id, reconnect: { initialMs: 200, maxMs: 1000 } });
    client.messages$.subscribe((m) => say(`${id} received ${JSON.stringify(m)}`));
    clients.push(client);
    await client.connect();
  }
  say(`six clients connected: ${PEOPLE.map((id, i) => `${id}→${NAMES[i % 3]}`).join(', ')}`);

  const timeline: [number, () => void][] = [
    [3, () => (say('node-1 sends to carol, who is on node-3 (routed through Redis)'), command('node-1', { cmd: 'send', peerId: 'carol', message: { from: 'node-1', text: 'hello carol' } }))],
    [4, () => (say('node-2 broadcasts to every peer of every node'), command('node-2', { cmd: 'broadcast', message: { text: 'hello everyone' } }))],
    [
      6,
      () => {
        const n2 = nodes.get('node-2')!;
        killedAt = Date.now();
        say(`SIGKILL node-2 (pid ${n2.child!.pid}): bob and erin lose their server; the others must declare them node-lost`);
        n2.child!.removeAllListeners('exit');
        n2.child!.kill('SIGKILL');
        n2.child = null;
        n2.view = [];
      },
    ],
    [11, () => (say('restarting node-2 on its port: bob and erin reconnect to it and reappear everywhere'), void startNode(url, 'node-2', nodes.get('node-2')!.tcp))],
  ];
  const t0 = Date.now();
  for (let second = 1; second <= SECONDS; second++) {
    await new Promise((r) => setTimeout(r, t0 + second * 1000 - Date.now()));
    for (const [at, step] of timeline) if (at === second) step();
    frame();
  }
}

async function cleanup(): Promise<void> {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(
    [...nodes.values()].map(
      (s) =>
        new Promise<void>((resolve) => {
          if (!s.child || s.child.exitCode !== null) return resolve();
          s.child.removeAllListeners('exit');
          s.child.once('exit', () => resolve());
          s.child.stdin!.end();
          setTimeout(() => s.child?.kill('SIGKILL'), 3000).unref();
        }),
    ),
  );
  await (redis as RedisServer | null)?.stop();
}

process.once('SIGINT', () => void cleanup().finally(() => process.exit(0)));
main().then(
  () => cleanup(),
  async (error: unknown) => {
    process.stderr.write(`demo:cluster failed: ${String(error)}\n`);
    await cleanup();
    process.exitCode = 1;
  },
);
