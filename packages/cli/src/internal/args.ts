/**
 * Command-line parsing shared by every command: `node:util` parseArgs in token mode,
 * so every refusal names the exact flag the user typed; strict number parsing; and
 * `UsageError`, which the dispatcher prints as one line on stderr with exit code 2.
 */
import { parseArgs } from 'node:util';

/** Process exit codes of every `vigil` command. */
export const ExitCode = {
  Ok: 0,
  /** A runtime failure: a port in use, a server that refused us for good. */
  Failure: 1,
  /** Bad flags, arguments or configuration. */
  Usage: 2,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The command line was refused; `flag` names the offending flag or argument. */
export class UsageError extends Error {
  constructor(
    /** The command, e.g. `serve`, or `''` for the dispatcher. */
    readonly command: string,
    /** The flag as typed (`--timeout`, `-x`) or an argument name (`URL`); null when none applies. */
    readonly flag: string | null,
    message: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }

  /** The one line printed on stderr. */
  get line(): string {
    const prog = this.command === '' ? 'vigil' : `vigil ${this.command}`;
    return `${prog}: ${this.message} (see '${prog} --help')`;
  }
}

export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
}
export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

/** Parsed flags: the last value of each string flag, `true` for each boolean flag given. */
export type FlagValues<S extends FlagSpecs> = { -readonly [K in keyof S]?: S[K]['type'] extends 'string' ? string : true };

export interface CommandLine<S extends FlagSpecs> {
  readonly flags: FlagValues<S>;
  /** How each flag was spelled on the command line (`-h` or `--help`), for messages. */
  readonly spelled: { readonly [K in keyof S]?: string };
  readonly positionals: readonly string[];
}

/**
 * Parses `argv` against `specs`. Refuses unknown flags, string flags without a value
 * (including `--tcp --ws 0`, where the next token is another flag), values given to
 * boolean flags, and more than `maxPositionals` positional arguments.
 * @throws UsageError naming the flag.
 */
export function parseCommandLine<S extends FlagSpecs>(command: string, specs: S, argv: readonly string[], maxPositionals: number): CommandLine<S> {
  const { tokens } = parseArgs({
    args: [...argv],
    options: specs as Record<string, { type: 'string' | 'boolean'; short?: string }>,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const flags: Record<string, string | true> = {};
  const spelled: Record<string, string> = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      if (positionals.length >= maxPositionals) {
        throw new UsageError(command, null, maxPositionals === 0 ? `unexpected argument "${token.value}"` : `unexpected extra argument "${token.value}"`);
      }
      positionals.push(token.value);
      continue;
    }
    const spec = Object.hasOwn(specs, token.name) ? specs[token.name] : undefined;
    if (spec === undefined) throw new UsageError(command, token.rawName, `unknown flag ${token.rawName}`);
    if (spec.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(command, token.rawName, `${token.rawName} does not take a value`);
      flags[token.name] = true;
    } else {
      // Without `=`, parseArgs takes the next token even if it is another flag.
      if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-'))) {
        throw new UsageError(command, token.rawName, `${token.rawName} needs a value`);
      }
      flags[token.name] = token.value;
    }
    spelled[token.name] = token.rawName;
  }
  return { flags: flags as FlagValues<S>, spelled: spelled as CommandLine<S>['spelled'], positionals };
}

/** A TCP port, 0 to 65535 (0: the OS picks a free one). @throws UsageError */
export function parsePort(command: string, flag: string, raw: string): number {
  const port = /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(port >= 0 && port <= 65_535)) throw new UsageError(command, flag, `${flag} must be a port number from 0 to 65535, got "${raw}"`);
  return port;
}

/** Largest duration flag accepted, ms (one day; Node timers cap at 2^31 - 1 anyway). */
export const MAX_DURATION_MS = 86_400_000;

/** A positive whole number of milliseconds. @throws UsageError */
export function parseMs(command: string, flag: string, raw: string): number {
  const ms = /^\d{1,9}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(ms >= 1 && ms <= MAX_DURATION_MS)) {
    throw new UsageError(command, flag, `${flag} must be a whole number of milliseconds from 1 to ${MAX_DURATION_MS}, got "${raw}"`);
  }
  return ms;
}

/** A positive number of seconds, fractions allowed. @throws UsageError */
export function parseSeconds(command: string, flag: string, raw: string): number {
  const s = /^\d{1,6}(\.\d{1,3})?$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(s > 0 && s * 1000 <= MAX_DURATION_MS)) {
    throw new UsageError(command, flag, `${flag} must be a positive number of seconds up to ${MAX_DURATION_MS / 1000}, got "${raw}"`);
  }
  return s;
}
