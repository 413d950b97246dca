/**
 * Child processes of the scale benchmark: server processes forked with `--expose-gc`
 * (requests and responses over IPC), load processes spawned with their stdout read
 * for the `ready` line, and teardown that SIGKILLs whatever is left, stopped or not.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import type { Request, Response, Timing } from './ipc.js';

export const REPO = resolve(import.meta.dirname, '../../../..');
const TSX = ['--import', 'tsx'];
/** Servers load TypeScript through esbuild without keepNames (see ts-loader.mjs), as a production build would run. */
const BUILD = ['--import', resolve(import.meta.dirname, 'ts-loader.mjs')];
const CLI = resolve(REPO, 'packages/cli/src/bin.ts');
const LOAD_CLIENT = resolve(import.meta.dirname, 'load-client.ts');

const children = new Set<ChildProcess>();

/** SIGKILLs every child still running (a SIGSTOPped one too). */
export function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}
process.on('exit', killAll);

function track<T extends ChildProcess>(c: T): T {
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

/** Waits until `proc` exits or `ms` pass. */
export function exited(proc: ChildProcess, ms: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(done, ms);
    proc.once('exit', () => {
      clearTimeout(timer);
      done();
    });
  });
}

export const SERVER_KINDS = ['vigil-tcp', 'vigil-ws', 'ws', 'socketio', 'net'] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

const SERVER_SCRIPT: Record<ServerKind, string> = {
  'vigil-tcp': 'vigil.ts',
  'vigil-ws': 'vigil.ts',
  ws: 'ws-recipe.ts',
  socketio: 'socketio.ts',
  net: 'naive-net.ts',
};

export class ServerProcess {
  readonly proc: ChildProcess;
  private readonly queue: ((r: Response) => void)[] = [];
  readonly port: Promise<number>;

  constructor(
    readonly kind: ServerKind,
    timing: Timing,
    frozenPrefix: string,
  ) {
    const script = resolve(import.meta.dirname, 'servers', SERVER_SCRIPT[kind]);
    this.proc = track(
      fork(script, [], {
        execArgv: ['--expose-gc', ...BUILD],
        env: { ...process.env, SCALE_TIMING: JSON.stringify(timing), SCALE_FROZEN_PREFIX: frozenPrefix, SCALE_TRANSPORT: kind === 'vigil-ws' ? 'ws' : 'tcp' },
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      }),
    );
    this.port = new Promise((resolvePort, reject) => {
      this.proc.once('exit', (code, signal) => reject(new Error(`${kind} server exited (${code ?? signal}) before listening`)));
      this.proc.on('message', (m: Response) => {
        if (m.type === 'listening') resolvePort(m.port);
        else this.queue.shift()?.(m);
      });
    });
  }

  request<T extends Response['type']>(m: Request, expect: T): Promise<Extract<Response, { type: T }>> {
    return new Promise((done, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.kind} server did not answer ${m.type} in 60 s`)), 60_000);
      this.queue.push((r) => {
        clearTimeout(timer);
        if (r.type !== expect) reject(new Error(`${this.kind} server answered ${r.type} to ${m.type}`));
        else done(r as Extract<Response, { type: T }>);
      });
      this.proc.send(m);
    });
  }

  kill(): void {
    this.proc.kill('SIGKILL');
  }
}

export interface LoadSpec {
  readonly server: ServerKind;
  readonly port: number;
  readonly clients: number;
  readonly intervalMs: number;
  /** /24 the load dials from. */
  readonly source: string;
  readonly idPrefix: string;
}

export class LoadProcess {
  readonly proc: ChildProcess;
  readonly ready: Promise<void>;
  private stderrTail = '';

  constructor(spec: LoadSpec) {
    const args =
      spec.server === 'vigil-tcp' || spec.server === 'vigil-ws'
        ? [
            CLI,
            'load',
            spec.server === 'vigil-tcp' ? `tcp://127.0.0.1:${spec.port}` : `ws://127.0.0.1:${spec.port}/`,
            '--clients',
            String(spec.clients),
            '--interval',
            String(spec.intervalMs),
            '--id-prefix',
            spec.idPrefix,
            '--source',
            spec.source,
          ]
        : [LOAD_CLIENT, '--kind', spec.server === 'socketio' ? 'sio' : spec.server, '--port', String(spec.port), '--clients', String(spec.clients), '--source', spec.source];
    this.proc = track(spawn(process.execPath, [...TSX, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] }));
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stderr!.on('data', (s: string) => {
      this.stderrTail = (this.stderrTail + s).slice(-2000);
    });
    this.ready = new Promise((done, reject) => {
      let out = '';
      this.proc.stdout!.setEncoding('utf8');
      this.proc.stdout!.on('data', (s: string) => {
        out += s;
        if (out.includes('"event":"ready"')) done();
      });
      this.proc.once('exit', (code, signal) => reject(new Error(`load exited (${code ?? signal}) before ready: ${this.stderrTail}`)));
    });
  }

  /** The last progress lines the load wrote. */
  get progress(): string {
    return this.stderrTail.trim().split('\n').at(-1) ?? '';
  }

  stop(): void {
    this.proc.kill('SIGSTOP');
  }

  kill(): void {
    this.proc.kill('SIGKILL');
  }
}
