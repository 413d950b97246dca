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
  load URL          open N lean client sessions for load tests (--clients N)
  demo              a server and misbehaving clients, with a live liveness table
  lab [--quick]     failure lab: kernel keepalive vs Vigil heartbeats (needs root)

Run 'vigil <command> --help' for a command's options.`;

type Command = (argv: readonly string[]) => Promise<ExitCode>;

const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  serve: async () => (await import('./commands/serve.js')).runServe,
  connect: async () => (await import('./commands/connect.js')).runConnect,
  load: async () => (await import('./commands/load.js')).runLoad,
  demo: async () => (await import('./commands/demo.js')).runDemo,
  lab: async () => (await import('@vigil/lab')).main,
};

/** Runs `vigil` with `argv` (without the node and script paths); resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<ExitCode> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined) throw new UsageError('', null, 'missing command (serve, connect, demo or lab)');
    if (name === '--help' || name === '-h' || name === 'help') {
      writeLine(USAGE);
      return ExitCode.Ok;
    }
    const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (load === undefined) {
      throw new UsageError('', name.startsWith('-') ? name : null, `unknown command "${name}" (expected serve, connect, demo or lab)`);
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
