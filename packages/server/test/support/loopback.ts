/**
 * Support for integration tests over real loopback sockets: a teardown registry that
 * always runs, bounded polling and event waits (no fixed sleeps), raw TCP and
 * WebSocket peers that speak or break the Vigil wire byte by byte, the kernel's TCP
 * socket table (`/proc/net/tcp{,6}`), and Vigil clients in child processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { monotonicNow, seededRandom } from '@vigil/core';
import { FrameDecoder, WS_SUBPROTOCOL, decodeMessage, encodeFrame, encodeMessage, type Message } from '@vigil/protocol';
import { config as rxConfig, filter, firstValueFrom, throwError, timeout, type Observable } from 'rxjs';
import WebSocket from 'ws';

/** The repository root (cwd for child processes, so `--import tsx` resolves). */
export const REPO_ROOT = resolve(__dirname, '../../../..');

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

/**
 * Registers the suite's hooks: after each test, `teardown` runs and the test fails if
 * RxJS reported an error no subscriber handled (`unhandled`, also readable mid-test).
 */
export function loopbackHooks(): { teardown: Teardown; unhandled: unknown[] } {
  const teardown = new Teardown();
  const unhandled: unknown[] = [];
  beforeEach(() => {
    unhandled.length = 0;
    rxConfig.onUnhandledError = (error) => unhandled.push(error);
  });
  afterEach(async () => {
    rxConfig.onUnhandledError = null;
    await teardown.run();
    expect(unhandled).toEqual([]);
  });
  return { teardown, unhandled };
}

/** Polls `condition` every 5 ms until it holds; fails after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = monotonicNow() + timeoutMs;
  while (!condition()) {
    if (monotonicNow() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The first value of `source` matching `predicate`; subscribe (call this) before triggering it. */
export function firstMatch<T>(source: Observable<T>, predicate: (value: T) => boolean, what: string, timeoutMs = 5000): Promise<T> {
  return firstValueFrom(
    source.pipe(
      filter(predicate),
      timeout({ first: timeoutMs, with: () => throwError(() => new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)) }),
    ),
  );
}

/** Deterministic pseudo-random bytes, so a failing garbage case can be replayed. */
export function garbage(seed: number, length: number): Buffer {
  const random = seededRandom(seed);
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (random() * 2 ** 32) & 0xff;
  return out;
}

/** How a raw peer's connection ended, on the monotonic clock the engines use. */
export interface RawEnd {
  readonly at: number;
  readonly error: (Error & { code?: string }) | undefined;
}

/** A bare TCP socket to a Vigil port: writes whatever it is told, records every byte it gets. */
export class RawTcpPeer {
  readonly closed: Promise<RawEnd>;
  private readonly chunks: Buffer[] = [];
  private error: (Error & { code?: string }) | undefined;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.chunks.push(chunk));
    socket.on('error', (error: Error) => {
      this.error ??= error;
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve({ at: monotonicNow(), error: this.error })));
  }

  /** Connects to 127.0.0.1:`port`. */
  static connect(port: number): Promise<RawTcpPeer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, noDelay: true });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawTcpPeer(socket));
      });
    });
  }

  get localPort(): number {
    return this.socket.localPort!;
  }

  /** Sends one framed Vigil message. */
  send(message: Message): void {
    this.socket.write(encodeFrame(encodeMessage(message)));
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Every Vigil message received so far, decoded from the raw bytes. */
  messages(): Message[] {
    const decoder = new FrameDecoder();
    return decoder.push(Buffer.concat(this.chunks)).map((payload) => decodeMessage(payload));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A bare WebSocket (offering `vigil.v1`): sends whatever it is told, records what it gets. */
export class RawWsPeer {
  readonly closed: Promise<RawEnd & { code: number; reason: string }>;
  /** Binary messages received, decoded. */
  readonly received: Message[] = [];
  private error: (Error & { code?: string }) | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.received.push(decodeMessage(data));
    });
    ws.on('error', (error: Error) => {
      this.error ??= error;
    });
    this.closed = new Promise((resolve) =>
      ws.once('close', (code: number, reason: Buffer) => resolve({ at: monotonicNow(), error: this.error, code, reason: reason.toString() })),
    );
  }

  static connect(port: number, options: { maxPayload?: number } = {}): Promise<RawWsPeer> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, WS_SUBPROTOCOL, options);
      ws.once('error', reject);
      ws.once('open', () => {
        ws.off('error', reject);
        resolve(new RawWsPeer(ws));
      });
    });
  }

  send(message: Message): void {
    this.ws.send(encodeMessage(message), { binary: true });
  }

  destroy(): void {
    this.ws.terminate();
  }
}

/** TCP states as `/proc/net/tcp` numbers them (include/net/tcp_states.h). */
const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED',
  '02': 'SYN_SENT',
  '03': 'SYN_RECV',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
  '0B': 'CLOSING',
};

export interface KernelSocket {
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly state: string;
}

/** `/proc/net/tcp` addresses are the raw in_addr words printed as host-order (little-endian) hex. */
function parseAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => [6, 4, 2, 0].map((i) => parseInt(w.slice(i, i + 2), 16)));
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.slice(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** Every TCP socket in this network namespace, IPv4 and IPv6 (v4-mapped shown as v4). */
export function kernelSockets(): KernelSocket[] {
  const out: KernelSocket[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4) continue;
      const [la, lp] = f[1]!.split(':');
      const [ra, rp] = f[2]!.split(':');
      out.push({
        localAddress: parseAddress(la!),
        localPort: parseInt(lp!, 16),
        remoteAddress: parseAddress(ra!),
        remotePort: parseInt(rp!, 16),
        state: TCP_STATES[f[3]!] ?? f[3]!,
      });
    }
  }
  return out;
}

/** The port in a `host:port` remote address. */
export function portOf(remote: string): number {
  const port = Number(remote.slice(remote.lastIndexOf(':') + 1));
  if (!Number.isInteger(port) || port <= 0) throw new Error(`no port in ${remote}`);
  return port;
}

const CHILD_CLIENT = resolve(__dirname, '../fixtures/child-client.ts');

/** A Vigil client in its own process (`fixtures/child-client.ts`). */
export class ChildClient {
  private exited = false;
  readonly exit: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    readonly session: { sessionId: string; peerId: string },
  ) {
    this.exit = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    }).then(() => {
      this.exited = true;
    });
  }

  /** Starts the child and resolves once it reports its handshake done. */
  static start(url: string, id: string, teardown: Teardown, timeoutMs = 15_000): Promise<ChildClient> {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD_CLIENT, url, id], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    // Registered before anything can fail, so the process never outlives the test.
    teardown.add(async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child client ${id} not connected after ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`child client ${id} exited (${code ?? signal}) before connecting; stderr: ${stderr}`));
      });
      createInterface({ input: child.stdout! }).once('line', (line) => {
        clearTimeout(timer);
        const report = JSON.parse(line) as { event: string; sessionId: string; peerId: string };
        if (report.event !== 'connected') reject(new Error(`unexpected report from child: ${line}`));
        else resolve(new ChildClient(child, { sessionId: report.sessionId, peerId: report.peerId }));
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Sends `signal`; returns the monotonic time right after the kernel took it. */
  signal(signal: NodeJS.Signals): number {
    if (this.exited) throw new Error('child already exited');
    process.kill(this.pid, signal);
    return monotonicNow();
  }
}
