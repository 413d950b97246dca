/**
 * The naive baseline: raw `net`, one `setTimeout` per connection. Every interval the
 * timer fires, closes the connection if it has been silent for the timeout, else writes
 * a one-byte ping and sets a new timeout; any inbound byte is a pong. No framing, no
 * protocol: what a heartbeat costs with nothing else around it.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Harness } from '../harness.js';

const harness = new Harness();
const { intervalMs, timeoutMs } = harness.timing;
const PING = Buffer.from([1]);

const server = createServer({ noDelay: true }, (socket: Socket) => {
  harness.accepted();
  const frozen = harness.isFrozen(socket.remoteAddress);
  let lastSeen = Date.now();
  let timer: NodeJS.Timeout;
  const tick = (): void => {
    if (Date.now() - lastSeen >= timeoutMs) {
      socket.destroy();
      return;
    }
    socket.write(PING);
    timer = setTimeout(tick, intervalMs);
  };
  timer = setTimeout(tick, intervalMs * Math.random());
  socket.on('data', (chunk: Buffer) => {
    lastSeen = Date.now();
    for (let i = 0; i < chunk.length; i++) harness.heartbeat();
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    clearTimeout(timer);
    harness.died(frozen, 'timeout');
  });
});

server.listen(0, '127.0.0.1', () => harness.listening((server.address() as AddressInfo).port));
