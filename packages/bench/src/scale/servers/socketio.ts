/**
 * Socket.IO 4 under the scale benchmark: its own heartbeat with `pingInterval` equal to
 * the scenario's interval and `pingTimeout` = timeout − interval, so that a silent peer
 * is closed after about the same silence as Vigil's timeout. Everything else default.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { Harness } from '../harness.js';

const harness = new Harness();
const { intervalMs, timeoutMs } = harness.timing;
const http = createServer();
const io = new Server(http, { pingInterval: intervalMs, pingTimeout: timeoutMs - intervalMs });

function heartbeat(): void {
  harness.heartbeat();
}
function falseDeath(reason: string): void {
  harness.died(false, reason);
}

io.on('connection', (socket) => {
  harness.accepted();
  socket.conn.on('heartbeat', heartbeat);
  if (harness.isFrozen(socket.handshake.address)) socket.on('disconnect', (reason) => harness.died(true, reason));
  else socket.on('disconnect', falseDeath);
});

http.listen(0, '127.0.0.1', () => harness.listening((http.address() as AddressInfo).port));
