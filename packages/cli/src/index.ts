/**
 * @vigil/cli: the `vigil` command line (`serve`, `connect`, `demo`). The public face
 * is the dispatcher, each command's runner and argument parser, and the exit codes;
 * the demo's internals stay private.
 */
export { main, USAGE } from './main.js';
export { ExitCode, UsageError } from './internal/args.js';
export { runServe, parseServeArgs, SERVE_USAGE } from './commands/serve.js';
export type { ServeOptions, ListeningEvent, StateEvent } from './commands/serve.js';
export { runConnect, parseConnectArgs, CONNECT_USAGE } from './commands/connect.js';
export type { ConnectOptions, ClientStateEvent } from './commands/connect.js';
export { runLoad, parseLoadArgs, LOAD_USAGE, LOAD_DEFAULTS } from './commands/load.js';
export type { LoadOptions } from './commands/load.js';
export { runDemo, parseDemoArgs, DEMO_USAGE } from './commands/demo.js';
export type { DemoOptions } from './commands/demo.js';
