/**
 * `ws` with its README heartbeat recipe ("How to detect and close broken connections?"):
 * `isAlive` per client, one `setInterval` sweep over all clients that terminates those
 * that did not answer the last ping and pings the rest. The sweep runs every interval,
 * so a dead peer goes in one to two intervals.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { Harness } from '../harness.js';

const harness = new Harness();
type Client = WebSocket & { isAlive?: boolean };

function heartbeat(this: Client): void {
  this.isAlive = true;
  harness.heartbeat();
}
function falseDeath(): void {
  harness.died(false, 'close');
}

const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
wss.on('connection', (ws: Client, req) => {
  harness.accepted();
  ws.isAlive = true;
  ws.on('error', () => undefined);
  ws.on('pong', heartbeat);
  if (harness.isFrozen(req.socket.remoteAddress)) ws.on('close', () => harness.died(true, 'terminated'));
  else ws.on('close', falseDeath);
});

setInterval(function ping() {
  wss.clients.forEach(function each(ws: Client) {
    if (ws.isAlive === false) return ws.terminate();
    ws.isAlive = false;
    ws.ping();
  });
}, harness.timing.intervalMs);

wss.on('listening', () => harness.listening((wss.address() as { port: number }).port));
