#!/usr/bin/env node
/**
 * The `vigil` executable (`pnpm vigil …`, run through tsx): runs the dispatcher and
 * exits with its code once stdout has drained. An unexpected error prints its stack
 * on stderr and exits 1.
 */
import { main } from './main.js';
import { exitAfterFlush } from './internal/process-io.js';

void main(process.argv.slice(2)).then(
  (code) => exitAfterFlush(code),
  (error: unknown) => {
    process.stderr.write(`vigil: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return exitAfterFlush(1);
  },
);
