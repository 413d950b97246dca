/**
 * The CLI's logger: pino writing synchronously to stderr (fd 2), so stdout carries
 * nothing but the commands' JSON lines and no log line is lost at exit.
 */
import { pino, type Logger } from 'pino';
import { UsageError } from './args.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Checks a `--log-level` value. @throws UsageError naming the flag. */
export function parseLogLevel(command: string, flag: string, raw: string): LogLevel {
  const level = LOG_LEVELS.find((l) => l === raw);
  if (level === undefined) throw new UsageError(command, flag, `${flag} must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  return level;
}

/**
 * A pino logger on stderr at `level`, its records tagged with the command. It carries
 * no `component`: the server and client add their own, and the CLI's own records use
 * `cliLogger`.
 */
export function createCliLogger(level: LogLevel, command: string): Logger {
  return pino({ level, base: { pid: process.pid, command } }, pino.destination({ fd: 2, sync: true }));
}

/** The child logger for the CLI's own records. */
export function cliLogger(root: Logger): Logger {
  return root.child({ component: 'cli' });
}
