/**
 * The measuring side of every benchmarked server process (Vigil, ws, Socket.IO, naive
 * `net`): CPU over a window, heartbeats exchanged, event-loop delay, connections
 * accepted and when, deaths (frozen peers with their time, anyone else as a false
 * death), and memory after a forced GC, answered over the fork IPC channel. The server
 * modules only call `accepted`, `heartbeat` and `died`; everything else lives here.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import type { Request, Response, ServerReport, Timing } from './ipc.js';

/** Event-loop delay sampling period, ms; subtracted from the recorded delays (Node records whole periods). */
const LOOP_RESOLUTION_MS = 10;

export class Harness {
  /** Heartbeat exchanges completed (pongs received) since the window began. */
  private heartbeats = 0;
  /** A counter the server keeps itself (Vigil's engine stats), read instead of `heartbeat()` calls. */
  private counter: (() => number) | null = null;
  private counterBase = 0;
  private readonly loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  private cpu = process.cpuUsage();
  private windowStart = performance.now();
  private frozenDeaths: { at: number; silenceMs: number | null }[] = [];
  private falseDeaths = new Map<string, number>();
  private acceptCount = 0;
  private firstAccept = 0;
  private lastAccept = 0;
  private open = 0;
  readonly timing: Timing;
  /** Remote addresses of frozen peers begin with this (their load dials from their own /24). */
  readonly frozenPrefix: string;

  constructor() {
    this.timing = JSON.parse(process.env['SCALE_TIMING'] ?? '{"intervalMs":1000,"timeoutMs":3000}') as Timing;
    this.frozenPrefix = process.env['SCALE_FROZEN_PREFIX'] ?? '127.0.1.';
    this.loop.enable();
    process.on('message', (m: Request) => this.answer(m));
    // The bench owns this process: if it goes away, so do we.
    process.on('disconnect', () => process.exit(0));
  }

  /** True for a remote address (`1.2.3.4`, `::ffff:1.2.3.4`, with or without `:port`) of a frozen peer. */
  isFrozen(remote: string | undefined): boolean {
    return remote !== undefined && remote.replace(/^::ffff:/, '').startsWith(this.frozenPrefix);
  }

  listening(port: number): void {
    process.send?.({ type: 'listening', port } satisfies Response);
  }

  accepted(): void {
    const now = Date.now();
    if (this.acceptCount === 0) this.firstAccept = now;
    this.acceptCount++;
    this.lastAccept = now;
    this.open++;
  }

  heartbeat(): void {
    this.heartbeats++;
  }

  /** Counts heartbeats from a counter the server keeps itself, instead of `heartbeat()` calls. */
  countFrom(counter: () => number): void {
    this.counter = counter;
  }

  /** A connection ended: a frozen peer detected (its time kept), or a false death by `cause`. */
  died(frozen: boolean, cause: string, silenceMs: number | null = null): void {
    this.open--;
    if (frozen) this.frozenDeaths.push({ at: Date.now(), silenceMs });
    else this.falseDeaths.set(cause, (this.falseDeaths.get(cause) ?? 0) + 1);
  }

  private answer(m: Request): void {
    switch (m.type) {
      case 'setup-reset':
        this.acceptCount = 0;
        this.reply({ type: 'ok' });
        return;
      case 'window':
        this.heartbeats = 0;
        this.counterBase = this.counter?.() ?? 0;
        this.loop.reset();
        this.cpu = process.cpuUsage();
        this.windowStart = performance.now();
        this.frozenDeaths = [];
        this.reply({ type: 'ok' });
        return;
      case 'read':
        this.reply({ type: 'report', report: this.report() });
        return;
      case 'heap-snapshot':
        this.collect();
        writeHeapSnapshot(m.path);
        this.reply({ type: 'written', path: m.path, cpuUs: 0, heartbeats: 0 });
        return;
      case 'cpu-profile':
        void this.profile(m.ms, m.path);
        return;
      case 'memory': {
        this.collect();
        const mu = process.memoryUsage();
        this.reply({ type: 'memory', rss: mu.rss, heapUsed: mu.heapUsed, external: mu.external, arrayBuffers: mu.arrayBuffers });
        return;
      }
    }
  }

  private collect(): void {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc === undefined) throw new Error('run the server with --expose-gc');
    // Twice: the first pass may only queue finalizers the second collects.
    gc();
    gc();
  }

  private async profile(ms: number, path: string): Promise<void> {
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
    const cpu = process.cpuUsage();
    const beats = this.counter === null ? this.heartbeats : this.counter();
    await new Promise((r) => setTimeout(r, ms));
    const { profile } = await session.post('Profiler.stop');
    const used = process.cpuUsage(cpu);
    const heartbeats = (this.counter === null ? this.heartbeats : this.counter()) - beats;
    session.disconnect();
    writeFileSync(path, JSON.stringify(profile));
    this.reply({ type: 'written', path, cpuUs: used.user + used.system, heartbeats });
  }

  private report(): ServerReport {
    const cpu = process.cpuUsage(this.cpu);
    const ms = (ns: number): number => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
    const h = this.loop;
    const falseDeaths: Record<string, number> = {};
    for (const [cause, n] of this.falseDeaths) falseDeaths[cause] = n;
    return {
      windowMs: performance.now() - this.windowStart,
      cpuUs: cpu.user + cpu.system,
      systemUs: cpu.system,
      heartbeats: this.counter === null ? this.heartbeats : this.counter() - this.counterBase,
      loop: { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), samples: h.count },
      accepted: this.acceptCount,
      acceptSpanMs: this.lastAccept - this.firstAccept,
      open: this.open,
      frozenDeaths: this.frozenDeaths,
      falseDeaths,
    };
  }

  private reply(r: Response): void {
    process.send?.(r);
  }
}
