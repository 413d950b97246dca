/**
 * The receiving end of the throughput benchmark: a `VigilServer` (TCP and WebSocket) or
 * a `ws` server decoding JSON. Counts application messages and reports over IPC when the
 * expected number has arrived, with the ms since the count was armed.
 */
import type { AddressInfo } from 'node:net';
import { VigilServer } from '@vigil/server';
import { WebSocketServer } from 'ws';

let expected = Number.POSITIVE_INFINITY;
let count = 0;
let armedAt = 0;
let checksum = 0;
const received = (x: number): void => {
  checksum += x;
  if (++count === expected) process.send?.({ type: 'done', ms: performance.now() - armedAt, checksum });
};
process.on('message', (m: { type: 'expect'; count: number }) => {
  count = 0;
  checksum = 0;
  expected = m.count;
  armedAt = performance.now();
  process.send?.({ type: 'armed' });
});
process.on('disconnect', () => process.exit(0));

if (process.env['THROUGHPUT_KIND'] === 'ws') {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  wss.on('connection', (ws) => {
    ws.on('message', (data: Buffer) => received((JSON.parse(data.toString()) as { x: number }).x));
  });
  wss.on('listening', () => process.send?.({ type: 'listening', ports: { ws: (wss.address() as AddressInfo).port } }));
} else {
  const server = new VigilServer<{ x: number }>({ tcp: { port: 0 }, ws: { port: 0 } });
  server.messages$.subscribe(({ message }) => received(message.x));
  const ports = await server.listen();
  process.send?.({ type: 'listening', ports });
}
