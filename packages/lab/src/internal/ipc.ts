/**
 * The lab's process protocol: the orchestrator starts the observer (namespace A) and
 * the peer (namespace B) through `ip netns exec`, hands them a config in `LAB_CONFIG`,
 * sends commands as JSON lines on stdin and reads events as JSON lines on stdout.
 * Times are CLOCK_MONOTONIC ms, which every process on the machine shares.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Cause } from '@vigil/core';
import type { KernelSocketState } from '@vigil/transport';
import type { DetectorSpec, LabTimings } from '../spec.js';

/** CLOCK_MONOTONIC in ms (shared by all processes; `ip netns exec` makes no time namespace). */
export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export interface ChildConfig {
  readonly observerAddr: string;
  readonly basePort: number;
  readonly detectors: readonly DetectorSpec[];
  readonly timings: LabTimings;
}

export type Side = 'observer' | 'peer';

export type ChildEvent =
  | { readonly ev: 'listening' }
  | { readonly ev: 'connected'; readonly detector: string; readonly readback: KernelSocketState | null }
  | { readonly ev: 'suspect'; readonly detector: string; readonly at: number }
  | { readonly ev: 'ended'; readonly detector: string; readonly at: number; readonly cause: Cause; readonly error: string | null }
  | { readonly ev: 'fatal'; readonly message: string };

export type ChildCommand = { readonly cmd: 'write'; readonly style: 'trickle' | 'flood' } | { readonly cmd: 'exit' };

/** In a child: emits one event to the orchestrator. */
export function emit(event: ChildEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

/** In a child: reads the config, runs `onCommand` per command, and exits when the orchestrator goes away. */
export function childMain(onCommand: (c: ChildCommand) => void): ChildConfig {
  const raw = process.env['LAB_CONFIG'];
  if (raw === undefined) throw new Error('LAB_CONFIG is not set: this file is started by the lab');
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() !== '') onCommand(JSON.parse(line) as ChildCommand);
  });
  // The orchestrator died (or closed us): nothing may outlive it.
  lines.on('close', () => process.exit(0));
  process.on('uncaughtException', (error) => {
    emit({ ev: 'fatal', message: error.stack ?? error.message });
    process.exit(1);
  });
  return JSON.parse(raw) as ChildConfig;
}

/** The orchestrator's handle on one child process. */
export class Child {
  readonly proc: ChildProcess;
  readonly events: ChildEvent[] = [];
  readonly exited: Promise<void>;
  private waiters: (() => void)[] = [];

  constructor(
    readonly side: Side,
    ns: string,
    file: string,
    cwd: string,
    config: ChildConfig,
    logFile: string,
  ) {
    this.proc = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', file], {
      cwd,
      env: { ...process.env, LAB_CONFIG: JSON.stringify(config) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const log = createWriteStream(logFile, { flags: 'a' });
    this.proc.stderr!.pipe(log);
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      let event: ChildEvent;
      try {
        event = JSON.parse(line) as ChildEvent;
      } catch {
        log.write(`[stdout] ${line}\n`);
        return;
      }
      this.events.push(event);
      for (const w of this.waiters.splice(0)) w();
    });
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', () => {
        for (const w of this.waiters.splice(0)) w();
        resolve();
      });
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  send(command: ChildCommand): void {
    if (this.alive && this.proc.stdin?.writable) this.proc.stdin.write(`${JSON.stringify(command)}\n`);
  }

  /** Resolves when `done()` holds (re-checked on each event), rejects after `timeoutMs` or if the child exits first. */
  async until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = monoMs() + timeoutMs;
    while (!done()) {
      const fatal = this.events.find((e) => e.ev === 'fatal');
      if (fatal) throw new Error(`${this.side} failed: ${fatal.message}`);
      if (!this.alive) throw new Error(`${this.side} exited while waiting for ${what}`);
      const left = deadline - monoMs();
      if (left <= 0) throw new Error(`${this.side}: timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  signal(sig: NodeJS.Signals): void {
    try {
      if (this.alive) process.kill(this.pid, sig);
    } catch {
      // Already gone.
    }
  }

  /** SIGKILL (after SIGCONT, for a stopped child) and wait for the exit, at most 3 s. */
  async kill(): Promise<void> {
    this.signal('SIGCONT');
    this.signal('SIGKILL');
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 3000))]);
  }
}
