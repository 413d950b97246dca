/**
 * One simulated demo client, run as a child process of `vigil demo`: a `VigilClient`
 * that answers heartbeats and reconnects. On the supervisor's `slow` message it
 * blocks its own event loop in bursts (so its pongs come late), until `recover`.
 * It leaves when told to (SIGTERM, SIGINT) or when its parent goes away (the IPC
 * channel closes), so a killed demo leaves no client behind.
 */
import { parseArgs } from 'node:util';
import { VigilClient } from '@vigil/client';
import { SLOW_BLOCK_MS, SLOW_GAP_MS, type DemoChildMessage } from './scenario.js';

const { values } = parseArgs({ options: { url: { type: 'string' }, id: { type: 'string' } }, strict: true });
if (values.url === undefined || values.id === undefined) {
  process.stderr.write('demo client: --url and --id are required\n');
  process.exit(2);
}

// Reconnect promptly: the demo is about watching peers come back.
const client = new VigilClient(values.url, { id: values.id, reconnect: { initialMs: 100, maxMs: 1000 } });
client.connect().catch(() => undefined);

let slow = false;
let slowTimer: NodeJS.Timeout | null = null;

function block(): void {
  slowTimer = null;
  if (!slow) return;
  const until = performance.now() + SLOW_BLOCK_MS;
  // Deliberately busy: nothing else in this process runs, pongs included.
  while (performance.now() < until);
  slowTimer = setTimeout(block, SLOW_GAP_MS);
}

process.on('message', (message: DemoChildMessage) => {
  if (message.type === 'slow' && !slow) {
    slow = true;
    block();
  } else if (message.type === 'recover') {
    slow = false;
    if (slowTimer) clearTimeout(slowTimer);
    slowTimer = null;
  }
});

let leaving = false;
function leave(): void {
  if (leaving) return;
  leaving = true;
  slow = false;
  if (slowTimer) clearTimeout(slowTimer);
  // Bounded: an orderly close must not keep an orphan alive.
  setTimeout(() => process.exit(0), 1500).unref();
  void client.close().finally(() => process.exit(0));
}

process.on('SIGTERM', leave);
process.on('SIGINT', leave);
process.on('disconnect', leave);
// The parent may have gone before this handler existed.
if (process.send !== undefined && !process.connected) leave();
