/**
 * Test fixture: the `vigil` CLI as a real child process (`node --import tsx bin.ts`,
 * run from the repository root), with its stdout split into lines, bounded waits for
 * lines and exit, and teardown that SIGKILLs whatever a test left running.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import path from 'node:path';

/** The repository root (`/work/main`): tests run the CLI from there, as `pnpm vigil` does. */
export const REPO_ROOT = path.resolve(__dirname, '../../../..');
const BIN = 'packages/cli/src/bin.ts';

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const running = new Set<CliProcess>();

export class CliProcess {
  readonly proc: ChildProcessWithoutNullStreams;
  /** Complete stdout lines so far. */
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<Exit>;
  private partial = '';
  private readonly waiters = new Set<() => void>();

  constructor(args: readonly string[]) {
    this.proc = spawn(process.execPath, ['--import', 'tsx', BIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, NO_COLOR: '1' } });
    running.add(this);
    this.proc.stdout.setEncoding('utf8');
    this.proc.stderr.setEncoding('utf8');
    this.proc.stdout.on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop() ?? '';
      this.lines.push(...parts);
      this.wake();
    });
    this.proc.stderr.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        running.delete(this);
        this.wake();
        resolve({ code, signal });
      });
    });
  }

  get pid(): number {
    return this.proc.pid ?? 0;
  }

  get hasExited(): boolean {
    return this.proc.exitCode !== null || this.proc.signalCode !== null;
  }

  /** Stdout lines parsed as JSON (every line must be JSON). */
  json<T = Record<string, unknown>>(): T[] {
    return this.lines.map((l) => JSON.parse(l) as T);
  }

  /** Resolves with the first stdout line (from `from` on) that `match` accepts; rejects after `timeoutMs`. */
  async waitForLine(match: (line: string) => boolean, timeoutMs: number, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.slice(from).find(match);
      if (found !== undefined) return found;
      if (this.hasExited) throw new Error(`process exited before the line appeared; stdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching line within ${timeoutMs} ms; stdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        const waiters = this.waiters;
        function done(): void {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        waiters.add(done);
      });
    }
  }

  /** Resolves with the first stdout JSON line (from `from` on) that `match` accepts. */
  async waitForJson<T = Record<string, unknown>>(match: (value: T) => boolean, timeoutMs: number, from = 0): Promise<T> {
    const line = await this.waitForLine((l) => {
      try {
        return match(JSON.parse(l) as T);
      } catch {
        return false;
      }
    }, timeoutMs, from);
    return JSON.parse(line) as T;
  }

  /** Resolves with the exit; rejects after `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still running after ${timeoutMs} ms; stderr:\n${this.stderr}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.hasExited) this.proc.kill(signal);
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** Starts `vigil <args>`. */
export function startCli(...args: string[]): CliProcess {
  return new CliProcess(args);
}

/** SIGKILLs every CLI process a test started and waits for them (for `afterEach`). */
export async function killAllCli(): Promise<void> {
  const all = [...running];
  for (const p of all) p.signal('SIGKILL');
  await Promise.all(all.map((p) => p.exited));
}

/** GETs `url` without keep-alive; resolves with status and body. */
export function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/**
 * Calls `probe` every `intervalMs` until it returns a value other than undefined;
 * rejects with the last error (or a timeout) after `timeoutMs`.
 */
export async function pollUntil<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Whether `pid` is still a live (not zombie) process whose command line contains
 * `marker`, so a recycled pid is not mistaken for a leftover child.
 */
export function processRunning(pid: number, marker: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return false;
  }
}
