/**
 * Process edges shared by the long-running commands: JSON lines on stdout, the
 * shutdown request (SIGINT, SIGTERM, SIGHUP, or stdout's reader going away), and
 * leaving only after stdout has drained.
 */
import { once } from 'node:events';

/** Signals that ask a command to stop in order. */
export const SHUTDOWN_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type ShutdownSignal = (typeof SHUTDOWN_SIGNALS)[number];

/** Why a command was asked to stop. */
export type ShutdownReason = ShutdownSignal | 'EPIPE';

let stdoutBroken = false;
const brokenListeners = new Set<() => void>();

function onStdoutError(error: NodeJS.ErrnoException): void {
  // The reader closed the pipe (`vigil serve | head -1`): stop, as SIGPIPE would.
  if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') {
    stdoutBroken = true;
    for (const listener of brokenListeners) listener();
    return;
  }
  throw error;
}

let stdoutGuarded = false;
function guardStdout(): void {
  if (stdoutGuarded) return;
  stdoutGuarded = true;
  process.stdout.on('error', onStdoutError);
}

/** Writes one JSON document per line on stdout (dropped once the reader has gone away). */
export function writeJsonLine(value: unknown): void {
  guardStdout();
  if (stdoutBroken) return;
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Writes one plain line on stdout (dropped once the reader has gone away). */
export function writeLine(line: string): void {
  guardStdout();
  if (stdoutBroken) return;
  process.stdout.write(`${line}\n`);
}

export interface ShutdownRequest {
  /** Resolves with the first reason to stop; never rejects. */
  readonly requested: Promise<ShutdownReason>;
  /** Removes the signal handlers (later signals get Node's default behaviour again). */
  dispose(): void;
}

/**
 * Installs handlers for the shutdown signals. Repeated signals while stopping are
 * ignored: `pnpm` and `tsx` both forward a terminal's Ctrl-C, so one keypress can
 * arrive twice; callers bound their own shutdown time instead.
 */
export function shutdownRequest(): ShutdownRequest {
  guardStdout();
  let resolve!: (reason: ShutdownReason) => void;
  const requested = new Promise<ShutdownReason>((r) => {
    resolve = r;
  });
  const handlers = SHUTDOWN_SIGNALS.map((signal) => {
    const handler = (): void => resolve(signal);
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  const onBroken = (): void => resolve('EPIPE');
  brokenListeners.add(onBroken);
  if (stdoutBroken) onBroken();
  return {
    requested,
    dispose() {
      for (const [signal, handler] of handlers) process.off(signal, handler);
      brokenListeners.delete(onBroken);
    },
  };
}

/** Waits for `promise` at most `ms`; resolves `'timeout'` if the deadline comes first. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Exits with `code` once stdout has handed its queued lines to the OS (at most `maxWaitMs`). */
export async function exitAfterFlush(code: number, maxWaitMs = 2000): Promise<never> {
  if (!stdoutBroken && process.stdout.writableLength > 0) {
    await within(
      once(process.stdout, 'drain').then(
        () => undefined,
        () => undefined,
      ),
      maxWaitMs,
    );
  }
  process.exit(code);
}
