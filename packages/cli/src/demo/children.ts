/**
 * The demo's child processes: spawns each simulated client as `node --import <tsx>
 * client.ts`, carries schedule actions out on them (signals, IPC messages, respawns)
 * and tears them all down: in order on a normal stop, with SIGKILL from an exit or
 * crash handler, and by themselves (IPC disconnect) if the demo is killed outright.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DemoAction, DemoChildMessage, DemoPeer } from './scenario.js';

/** Where a demo child is in its life, as the supervisor made it. */
export type ChildState = 'running' | 'frozen' | 'slow' | 'crashed' | 'exited';

/** Something the supervisor saw happen to a child. */
export type ChildEvent =
  | { readonly kind: 'spawned'; readonly id: string; readonly pid: number }
  | {
      readonly kind: 'exited';
      readonly id: string;
      readonly pid: number;
      readonly code: number | null;
      readonly signal: NodeJS.Signals | null;
      /** False when nothing explains the exit (neither we nor a clean exit 0); such a child is respawned. */
      readonly expected: boolean;
      /** The child's last stderr line, if any. */
      readonly lastError: string | null;
    }
  | { readonly kind: 'spawn-failed'; readonly id: string; readonly error: string };

export interface DemoChildrenOptions {
  /** URL of tsx's ESM loader, for `--import`. */
  readonly loader: string;
  /** The child script (`client.ts`). */
  readonly script: string;
  /** The server URL a peer connects to. */
  readonly urlOf: (peer: DemoPeer) => string;
  readonly onEvent: (event: ChildEvent) => void;
  /** Delay before a child that exited unexpectedly is started again, ms. Default 2000. */
  readonly respawnDelayMs?: number;
}

interface Child {
  readonly peer: DemoPeer;
  proc: ChildProcess | null;
  state: ChildState;
  /** Set when we caused the coming exit (crash, stop). */
  exitExpected: boolean;
  lastError: string | null;
  respawn: NodeJS.Timeout | null;
}

/** Most stderr kept per child for diagnostics, characters. */
const STDERR_TAIL_CHARS = 2000;

/**
 * tsx's loader URL for the children's `--import`: resolved from this package (tsx is
 * the workspace's TypeScript runner), else the loader this process was started with.
 * @throws Error when neither is found.
 */
export function resolveTsxLoader(): string {
  try {
    return import.meta.resolve('tsx');
  } catch {
    // Not resolvable from here (an unusual install); fall through to our own flags.
  }
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const value = arg === '--import' ? argv[i + 1] : arg.startsWith('--import=') ? arg.slice('--import='.length) : undefined;
    if (value !== undefined && /(^|[/\\])tsx([/\\@]|$)/.test(value)) return value;
  }
  throw new Error('cannot find tsx to run the demo clients: install the workspace dev dependencies (pnpm install)');
}

/** The child script's path (next to this module). */
export function demoClientScript(): string {
  return fileURLToPath(new URL('./client.ts', import.meta.url));
}

function alive(proc: ChildProcess | null): proc is ChildProcess {
  return proc !== null && proc.exitCode === null && proc.signalCode === null;
}

export class DemoChildren {
  private readonly children = new Map<string, Child>();
  private stopping = false;

  constructor(private readonly options: DemoChildrenOptions) {}

  /** Starts every peer's process. */
  startAll(peers: readonly DemoPeer[]): void {
    for (const peer of peers) this.start(peer);
  }

  /** What the supervisor last did to `id`'s process; null for ids it does not run. */
  stateOf(id: string): ChildState | null {
    return this.children.get(id)?.state ?? null;
  }

  /** Pids of the processes still running (or stopped). */
  pids(): number[] {
    const out: number[] = [];
    for (const c of this.children.values()) if (alive(c.proc) && c.proc.pid !== undefined) out.push(c.proc.pid);
    return out;
  }

  /** Carries out one schedule action; false when the child was in no state for it. */
  act(action: DemoAction): boolean {
    const child = this.children.get(action.peer);
    if (child === undefined || this.stopping) return false;
    const proc = child.proc;
    switch (action.kind) {
      case 'freeze':
        if (!alive(proc) || child.state !== 'running') return false;
        proc.kill('SIGSTOP');
        child.state = 'frozen';
        return true;
      case 'thaw':
        if (!alive(proc) || child.state !== 'frozen') return false;
        proc.kill('SIGCONT');
        child.state = 'running';
        return true;
      case 'crash':
        if (!alive(proc)) return false;
        child.exitExpected = true;
        proc.kill('SIGKILL');
        child.state = 'crashed';
        return true;
      case 'respawn':
        if (alive(proc)) return false;
        this.start(child.peer);
        return true;
      case 'slow':
        if (child.state !== 'running' || !this.message(proc, { type: 'slow' })) return false;
        child.state = 'slow';
        return true;
      case 'recover':
        if (child.state !== 'slow' || !this.message(proc, { type: 'recover' })) return false;
        child.state = 'running';
        return true;
    }
  }

  /**
   * Stops every child in order: SIGTERM (and SIGCONT for a frozen one, which
   * cannot act on it otherwise), then SIGKILL for any still there after `graceMs`.
   * Resolves once every child has exited.
   */
  async stopAll(graceMs: number): Promise<void> {
    this.stopping = true;
    const exits: Promise<void>[] = [];
    for (const child of this.children.values()) {
      if (child.respawn) clearTimeout(child.respawn);
      child.respawn = null;
      const proc = child.proc;
      if (!alive(proc)) continue;
      child.exitExpected = true;
      exits.push(exited(proc));
      proc.kill('SIGTERM');
      if (child.state === 'frozen') proc.kill('SIGCONT');
    }
    const all = Promise.all(exits);
    const timer = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), graceMs).unref());
    if ((await Promise.race([all, timer])) === 'late') {
      this.killAllNow();
      await all;
    }
  }

  /** SIGKILLs every child at once; synchronous, for exit and crash handlers. */
  killAllNow(): void {
    this.stopping = true;
    for (const child of this.children.values()) {
      if (child.respawn) clearTimeout(child.respawn);
      child.respawn = null;
      if (alive(child.proc)) {
        child.exitExpected = true;
        child.proc.kill('SIGKILL');
      }
    }
  }

  private start(peer: DemoPeer): void {
    if (this.stopping) return;
    const { loader, script } = this.options;
    const proc = spawn(process.execPath, ['--import', loader, script, '--url', this.options.urlOf(peer), '--id', peer.id], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    const previous = this.children.get(peer.id);
    if (previous?.respawn) clearTimeout(previous.respawn);
    const child: Child = { peer, proc, state: 'running', exitExpected: false, lastError: null, respawn: null };
    this.children.set(peer.id, child);
    let tail = '';
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (chunk: string) => {
      tail = (tail + chunk).slice(-STDERR_TAIL_CHARS);
    });
    proc.on('error', (error) => {
      // Spawn failures arrive here (no pid); a failed kill() on an exited child does too.
      if (proc.pid === undefined) this.options.onEvent({ kind: 'spawn-failed', id: peer.id, error: error.message });
    });
    proc.on('exit', (code, signal) => {
      if (this.children.get(peer.id)?.proc !== proc) return;
      // Exit code 0 means the client left in order on its own signal (a terminal's Ctrl-C reaches the whole group).
      const expected = child.exitExpected || code === 0;
      const lines = tail.trim().split('\n');
      child.lastError = lines[lines.length - 1] || null;
      if (child.state !== 'crashed') child.state = 'exited';
      this.options.onEvent({ kind: 'exited', id: peer.id, pid: proc.pid ?? 0, code, signal, expected, lastError: child.lastError });
      if (!expected && !this.stopping) child.respawn = setTimeout(() => this.start(peer), this.options.respawnDelayMs ?? 2000);
    });
    if (proc.pid !== undefined) this.options.onEvent({ kind: 'spawned', id: peer.id, pid: proc.pid });
  }

  private message(proc: ChildProcess | null, message: DemoChildMessage): boolean {
    if (!alive(proc) || !proc.connected) return false;
    // The callback swallows a channel that closes in between (the child just died).
    proc.send(message, () => undefined);
    return true;
  }
}

function exited(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (!alive(proc)) resolve();
    else proc.once('exit', () => resolve());
  });
}
