/**
 * Support for the cluster's integration tests: a teardown registry that always runs,
 * bounded polling (no fixed sleeps), a real redis-server on a free loopback port,
 * cluster nodes in child processes driven over stdin/stdout, Vigil clients, and a TCP
 * proxy that can cut one node off from Redis (a partition).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { VigilClient } from '@vigil/client';
import { monotonicNow } from '@vigil/core';
import { REDIS_INSTALL_HINT, RedisServer, redisServerInstalled } from '../../src/internal/redis-server.js';
import type { ClusterEvent, ClusterNode, ClusterPeer, ClusterStatus } from '../../src/index.js';

/** The repository root (cwd for child processes, so `--import tsx` resolves). */
export const REPO_ROOT = resolve(__dirname, '../../../..');
const NODE_FIXTURE = resolve(__dirname, '../fixtures/cluster-node.ts');

/** Teardown steps, run last-added first; every step runs even when an earlier one fails. */
export class Teardown {
  private readonly steps: (() => unknown)[] = [];

  add(step: () => unknown): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (let step = this.steps.pop(); step !== undefined; step = this.steps.pop()) {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  }
}

/** Polls `condition` (sync or async) every 25 ms until it holds; fails after `timeoutMs` with `describe()`. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000, describe?: () => unknown): Promise<void> {
  const deadline = monotonicNow() + timeoutMs;
  while (!(await condition())) {
    if (monotonicNow() > deadline) {
      const detail = describe ? `; last seen: ${JSON.stringify(await describe())}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A real redis-server for one test; fails (never skips) when redis-server is missing. */
export async function startRedis(teardown: Teardown): Promise<RedisServer> {
  if (!redisServerInstalled()) {
    throw new Error(`the cluster tests need a real Redis, and redis-server is not on PATH: ${REDIS_INSTALL_HINT}`);
  }
  const redis = await RedisServer.start();
  teardown.add(() => redis.stop());
  return redis;
}

export interface NodeOptions {
  readonly leaseTtlMs?: number;
  readonly renewIntervalMs?: number;
  readonly rttFlushMs?: number;
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
}

/** A cluster event as the test process received it, with its arrival time (monotonic ms). */
export interface Received {
  readonly e: ClusterEvent;
  readonly at: number;
}

/** A cluster node (`fixtures/cluster-node.ts`) in its own process. */
export class NodeProcess {
  readonly events: Received[] = [];
  private readonly replies = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private exited = false;
  stderr = '';

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly tcp: number,
  ) {
    child.once('exit', () => {
      this.exited = true;
      for (const r of this.replies.values()) r.reject(new Error(`node ${name} exited`));
      this.replies.clear();
    });
  }

  /** Starts a node and resolves once it joined the cluster. */
  static start(redisUrl: string, name: string, teardown: Teardown, options: NodeOptions = {}, timeoutMs = 20_000): Promise<NodeProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', NODE_FIXTURE, redisUrl, name, JSON.stringify(options)], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    // Registered before anything can fail, so the process never outlives the test.
    teardown.add(async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
    return new Promise((resolve, reject) => {
      let node: NodeProcess | null = null;
      const timer = setTimeout(() => reject(new Error(`node ${name} not ready after ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (node === null) reject(new Error(`node ${name} exited (${code ?? signal}) before it was ready; stderr: ${stderr}`));
      });
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const msg = JSON.parse(line) as { event?: string; tcp?: number; e?: ClusterEvent; reply?: number; ok?: boolean; result?: unknown; error?: string };
        if (msg.event === 'ready') {
          clearTimeout(timer);
          node = new NodeProcess(name, child, msg.tcp!);
          child.stderr!.on('data', (d: Buffer) => (node!.stderr = (node!.stderr + d.toString()).slice(-8000)));
          resolve(node);
        } else if (msg.event === 'cluster') {
          node?.events.push({ e: msg.e!, at: monotonicNow() });
        } else if (msg.reply !== undefined && node !== null) {
          const r = node.replies.get(msg.reply);
          node.replies.delete(msg.reply);
          if (msg.ok) r?.resolve(msg.result);
          else r?.reject(new Error(msg.error));
        }
      });
    });
  }

  get url(): string {
    return `tcp://127.0.0.1:${this.tcp}`;
  }

  get pid(): number {
    return this.child.pid!;
  }

  private request<T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 5000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`node ${this.name} has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.replies.delete(id);
        reject(new Error(`node ${this.name} did not answer ${cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.replies.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.stdin!.write(`${JSON.stringify({ id, cmd, ...args })}\n`);
    });
  }

  /** The node's replica. */
  view(): Promise<ClusterPeer[]> {
    return this.request('view');
  }

  /** Presence read from Redis by this node. */
  peers(): Promise<ClusterPeer[]> {
    return this.request('peers');
  }

  nodes(): Promise<ClusterNode[]> {
    return this.request('nodes');
  }

  status(): Promise<ClusterStatus> {
    return this.request('status');
  }

  send(peerId: string, message: unknown): Promise<boolean> {
    return this.request('send', { peerId, message });
  }

  broadcast(message: unknown): Promise<number> {
    return this.request('broadcast', { message });
  }

  /** Sends `signal`; returns the monotonic time right after the kernel took it. */
  signal(signal: NodeJS.Signals): number {
    process.kill(this.pid, signal);
    return monotonicNow();
  }

  /** Events of one type received so far. */
  received<T extends ClusterEvent['type']>(type: T): (Received & { e: Extract<ClusterEvent, { type: T }> })[] {
    return this.events.filter((r): r is Received & { e: Extract<ClusterEvent, { type: T }> } => r.e.type === type);
  }
}

/** `{ peerId: node }` of a presence list, for exact comparisons. */
export function placement(peers: readonly ClusterPeer[]): Record<string, string> {
  return Object.fromEntries(peers.map((p) => [p.id, p.node]).sort(([a], [b]) => (a! < b! ? -1 : 1)));
}

/** Starts a Vigil client with `id` on `url` (fast reconnects) and waits for its first session. */
export async function startClient<In = unknown>(url: string, id: string, teardown: Teardown): Promise<VigilClient<In, unknown>> {
  const client = new VigilClient<In, unknown>(url, { id, reconnect: { initialMs: 50, maxMs: 500 } });
  teardown.add(() => client.close());
  await client.connect();
  return client;
}

/**
 * A TCP proxy in front of Redis for one node. `cut()` destroys every connection and
 * refuses new ones (the node is partitioned from Redis while its peers stay connected);
 * `heal()` lets connections through again.
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private cutOff = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number, teardown: Teardown): Promise<TcpProxy> {
    let proxy: TcpProxy | null = null;
    const server = createServer((socket) => {
      if (proxy === null || proxy.cutOff) {
        socket.destroy();
        return;
      }
      const upstream = connect({ host: '127.0.0.1', port: targetPort });
      for (const s of [socket, upstream]) {
        proxy.sockets.add(s);
        s.on('close', () => proxy?.sockets.delete(s));
        s.on('error', () => undefined);
      }
      socket.on('close', () => upstream.destroy());
      upstream.on('close', () => socket.destroy());
      socket.pipe(upstream).pipe(socket);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    proxy = new TcpProxy(server, typeof address === 'object' && address !== null ? address.port : 0);
    teardown.add(() => proxy!.close());
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  cut(): void {
    this.cutOff = true;
    for (const s of this.sockets) s.destroy();
  }

  heal(): void {
    this.cutOff = false;
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((r) => this.server.close(() => r()));
  }
}
