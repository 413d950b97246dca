/**
 * Load for the comparison servers, with the same contract as `vigil load`: N sessions
 * from one process over source addresses SOURCE.2–254, progress on stderr, one
 * `{"event":"ready","clients":N}` line on stdout, answering heartbeats until killed.
 *   ws   a `ws` client (it answers ping frames with pongs by itself)
 *   sio  Engine.IO v4 over a WebSocket, speaking the packets a Socket.IO client would
 *        (`40` to join the default namespace, `3` for every `2`): lean, so the load
 *        process does not starve the server of CPU on a 2-core box
 *   net  raw TCP: a byte 2 for every byte 1
 *
 *   tsx load-client.ts --kind ws|sio|net --port P --clients N [--source 127.0.0]
 */
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const { values } = parseArgs({
  options: {
    kind: { type: 'string' },
    port: { type: 'string' },
    clients: { type: 'string' },
    source: { type: 'string', default: '127.0.0' },
    concurrency: { type: 'string', default: '256' },
  },
});
const kind = values.kind;
if (kind !== 'ws' && kind !== 'sio' && kind !== 'net') throw new Error('--kind must be ws, sio or net');
const port = Number(values.port);
const total = Number(values.clients);
const concurrency = Number(values.concurrency);
const hosts = 253;
const offset = Math.floor(Math.random() * hosts);
const PONG = Buffer.alloc(64, 2);

let up = 0;
let next = 0;
let inFlight = 0;
let failed = 0;
let lastError = '';
let lost = 0;
const handles: (WebSocket | Socket)[] = [];
const startedAt = performance.now();

function localAddress(i: number): string {
  return `${values.source}.${2 + ((offset + i) % hosts)}`;
}

function onUp(): void {
  up++;
  inFlight--;
  if (up === total) {
    report();
    process.stdout.write(`${JSON.stringify({ event: 'ready', clients: total })}\n`);
  }
  pump();
}

function onFail(i: number, message: string): void {
  failed++;
  lastError = message;
  setTimeout(() => {
    inFlight--;
    dial(i);
  }, 250 + Math.random() * 250);
}

function dial(i: number): void {
  inFlight++;
  let ready = false;
  const ok = (): void => {
    ready = true;
    onUp();
  };
  const ended = (message: string): void => {
    if (ready) lost++;
    else onFail(i, message);
  };
  if (kind === 'net') {
    const socket = connect({ host: '127.0.0.1', port, localAddress: localAddress(i), noDelay: true });
    handles[i] = socket;
    socket.once('connect', ok);
    socket.on('data', (chunk: Buffer) => socket.write(chunk.length <= PONG.length ? PONG.subarray(0, chunk.length) : Buffer.alloc(chunk.length, 2)));
    socket.on('error', (e) => (lastError = e.message));
    socket.once('close', () => ended(lastError || 'closed'));
    return;
  }
  const url = kind === 'ws' ? `ws://127.0.0.1:${port}/` : `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`;
  const ws = new WebSocket(url, { localAddress: localAddress(i), perMessageDeflate: false });
  handles[i] = ws;
  ws.on('error', (e) => (lastError = e.message));
  ws.once('close', () => ended(lastError || 'closed'));
  if (kind === 'ws') {
    ws.once('open', ok);
    return;
  }
  ws.on('message', (data: Buffer) => {
    const c = data[0];
    if (c === 0x32 /* '2' ping */) ws.send('3');
    else if (c === 0x30 /* '0' open */) ws.send('40');
    else if (c === 0x34 && data[1] === 0x30 /* '40' connected */ && !ready) ok();
  });
}

function pump(): void {
  while (inFlight < concurrency && next < total) dial(next++);
}

function report(): void {
  const s = (performance.now() - startedAt) / 1000;
  process.stderr.write(`load ${kind}: ${up}/${total} up after ${s.toFixed(1)} s${failed ? `, ${failed} failed dials (last: ${lastError})` : ''}${lost ? `, ${lost} lost` : ''}\n`);
}

const ticker = setInterval(() => {
  if (up < total || lost > 0) report();
}, 1000);
ticker.unref();
// Keep running until killed.
setInterval(() => undefined, 1 << 30);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
pump();
