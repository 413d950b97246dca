/**
 * The `vigil` dispatcher: picks the command, runs it, and turns a `UsageError` into
 * one line on stderr and exit code 2. Commands are loaded lazily so `vigil serve`
 * does not pay for the demo's modules.
 */
import { ExitCode, UsageError } from './internal/args.js';
import { writeLine } from './internal/process-io.js';

export const USAGE = `Usage: vigil <command> [options]

Commands:
  serve             run a Vigil server (TCP, WebSocket, HTTP API)
  connect URL       run one client until killed, printing its state changes
  demo              a server and misbehaving clients, with a live liveness table

Run 'vigil <command> --help' for a command's options.`;

type Command = (argv: readonly string[]) => Promise<ExitCode>;

const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  serve: async () => (await import('./commands/serve.js')).runServe,
  connect: async () => (await import('./commands/connect.js')).runConnect,
  demo: async () => (await import('./commands/demo.js')).runDemo,
};

/** Runs `vigil` with `argv` (without the node and script paths); resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<ExitCode> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined) throw new UsageError('', null, 'missing command (serve, connect or demo)');
    if (name === '--help' || name === '-h' || name === 'help') {
      writeLine(USAGE);
      return ExitCode.Ok;
    }
    const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (load === undefined) {
      throw new UsageError('', name.startsWith('-') ? name : null, `unknown command "${name}" (expected serve, connect or demo)`);
    }
    return await (await load())(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.line}\n`);
      return ExitCode.Usage;
    }
    throw error;
  }
}
