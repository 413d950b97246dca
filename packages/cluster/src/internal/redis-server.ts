/**
 * A throwaway `redis-server` child process on loopback, for tests, the bench and the
 * clustered demo: no persistence, a free port, stopped with its owner. Not exported
 * from the package.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';

/** How to get `redis-server`, for error messages. */
export const REDIS_INSTALL_HINT = 'install it with `apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis`';

/** True if a `redis-server` binary is on PATH. */
export function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A free loopback TCP port (bound once and released; the caller retries on a lost race). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** One PING over a raw socket: true on `+PONG`. */
function ping(url: string): Promise<boolean> {
  const { hostname: host, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host, port: Number(port || 6379) });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.on('data', (d: Buffer) => {
      reply += d.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/** Resolves once a PING on `url` answers, or rejects after `timeoutMs`. */
export async function waitForRedis(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ping(url))) {
    if (Date.now() > deadline) throw new Error(`redis at ${url} not answering after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export class RedisServer {
  private child: ChildProcess | null = null;
  private output = '';

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts a redis-server on a free loopback port; throws with an install hint if there is none. */
  static async start(timeoutMs = 10_000): Promise<RedisServer> {
    if (!redisServerInstalled()) throw new Error(`redis-server is not installed: ${REDIS_INSTALL_HINT}`);
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const server = new RedisServer(await freePort());
      try {
        await server.spawn(timeoutMs);
        return server;
      } catch (error) {
        lastError = error;
        await server.stop();
      }
    }
    throw lastError;
  }

  /** SIGKILL (no shutdown, data gone: it never persists) and a fresh server on the same port. */
  async restart(timeoutMs = 10_000): Promise<void> {
    await this.stop();
    await this.spawn(timeoutMs);
  }

  /** Stops the server (SIGKILL: nothing to save) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  }

  private async spawn(timeoutMs: number): Promise<void> {
    this.output = '';
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-4000)));
    child.stderr!.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-4000)));
    const exited = new Promise<never>((_, reject) => child.once('exit', (code, signal) => reject(new Error(`redis-server exited (${code ?? signal}): ${this.output}`))));
    exited.catch(() => undefined);
    await Promise.race([waitForRedis(this.url, timeoutMs), exited]);
  }
}
