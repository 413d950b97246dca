/**
 * `pnpm --filter game start [-- --port 8080 --host 127.0.0.1]`: builds the browser client
 * if its bundle is stale, starts the game server and prints the address to open.
 */
import { parseArgs } from 'node:util';
import { ensureBrowserBuild } from '@vigil/client/build';
import { GameServer } from './game-server.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: { port: { type: 'string', default: '8080' }, host: { type: 'string', default: '127.0.0.1' } },
});

const bundle = await ensureBrowserBuild();
const game = new GameServer({ port: Number(values.port), host: values.host, browserBundle: bundle });
const origin = await game.listen();
// Bots read this line to find a server they started.
console.log(`game listening on ${origin} (open it in a browser; stats at ${origin}/stats)`);

let closing = false;
const stop = (): void => {
  if (closing) return;
  closing = true;
  game.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
