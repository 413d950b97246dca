/**
 * Throughput of small application messages through one connection, end to end from
 * this process to a server process: Vigil (msgpackr, over TCP and WebSocket, through
 * `VigilClient.send` and `server.messages$`) against `ws` with JSON. Plus the codec's
 * own encode and decode rates beside JSON's, in this process.
 */
import { fork } from 'node:child_process';
import { resolve } from 'node:path';
import { VigilClient } from '@vigil/client';
import { MessageType, decodeMessage, encodeMessage, encodePing, encodePong, readPong, type Message, type PongFields } from '@vigil/protocol';
import WebSocket from 'ws';

export interface ThroughputResult {
  readonly name: string;
  readonly messages: number;
  readonly perSecond: number;
  readonly note: string;
}

const BODY = { t: 'move', id: 'player-17', x: 0, y: 240, vx: -1.5, vy: 0.25 };
const BATCH = 2000;

function body(i: number): typeof BODY {
  return { ...BODY, x: i };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

async function oneConnection(kind: 'vigil-tcp' | 'vigil-ws' | 'ws', messages: number): Promise<number> {
  const child = fork(resolve(import.meta.dirname, 'servers/throughput.ts'), [], {
    execArgv: ['--import', resolve(import.meta.dirname, 'ts-loader.mjs')],
    env: { ...process.env, THROUGHPUT_KIND: kind === 'ws' ? 'ws' : 'vigil' },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const next = <T>(type: string): Promise<T> =>
    new Promise((done) => {
      const on = (m: { type: string }): void => {
        if (m.type !== type) return;
        child.off('message', on);
        done(m as T);
      };
      child.on('message', on);
    });
  try {
    const { ports } = await next<{ ports: { tcp?: number; ws?: number } }>('listening');
    let send: (i: number) => void;
    let close: () => Promise<void>;
    if (kind === 'ws') {
      const ws = new WebSocket(`ws://127.0.0.1:${ports.ws}/`, { perMessageDeflate: false });
      await new Promise((r) => ws.once('open', r));
      send = (i) => ws.send(JSON.stringify(body(i)));
      close = async () => ws.terminate();
    } else {
      const client = new VigilClient(kind === 'vigil-tcp' ? `tcp://127.0.0.1:${ports.tcp}` : `ws://127.0.0.1:${ports.ws}/`, { reconnect: false });
      await client.connect();
      send = (i) => {
        client.send(body(i));
      };
      close = () => client.close();
    }
    child.send({ type: 'expect', count: messages });
    await next('armed');
    const done = next<{ ms: number }>('done');
    const t0 = performance.now();
    for (let i = 0; i < messages; i++) {
      send(i);
      if (i % BATCH === BATCH - 1) await tick();
    }
    await done;
    const ms = performance.now() - t0;
    await close();
    return (messages / ms) * 1000;
  } finally {
    child.kill('SIGKILL');
  }
}

function rate(fn: (i: number) => unknown, ms: number): number {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let k = 0; k < 1000; k++) fn(n++);
    t = performance.now();
  }
  return (n / (t - t0)) * 1000;
}

export async function runThroughput(options: { readonly quick: boolean; readonly progress: (line: string) => void }): Promise<ThroughputResult[]> {
  const messages = options.quick ? 50_000 : 300_000;
  const out: ThroughputResult[] = [];
  for (const kind of ['vigil-tcp', 'vigil-ws', 'ws'] as const) {
    options.progress(`throughput: ${messages} messages over ${kind}…`);
    const perSecond = await oneConnection(kind, messages);
    out.push({ name: kind === 'ws' ? 'ws + JSON, one connection' : `Vigil ${kind === 'vigil-tcp' ? 'TCP' : 'WebSocket'} + msgpackr, one connection`, messages, perSecond, note: 'client send() to server handler, across processes' });
  }
  const ms = options.quick ? 300 : 1500;
  options.progress('throughput: codec rates…');
  const data: Message = { type: MessageType.Data, seq: 1, body: BODY };
  const ping: Message = { type: MessageType.Ping, seq: 7, ts: 1795524134550.4294, rtt: 0.83 };
  const dataBytes = encodeMessage(data);
  const pingBytes = encodeMessage(ping);
  const pongBytes = encodePong(7, 1795524134550.4294, 1795524134551.125);
  const pongFields: PongFields = { seq: 0, echoTs: 0, time: 0, ack: -1 };
  const json = JSON.stringify(BODY);
  const codec: [string, () => unknown, string][] = [
    ['encodeMessage(data)', () => encodeMessage(data), `${dataBytes.length} bytes`],
    ['decodeMessage(data)', () => decodeMessage(dataBytes), `${dataBytes.length} bytes, validated`],
    ['encodeMessage(ping)', () => encodeMessage(ping), `${pingBytes.length} bytes`],
    ['decodeMessage(ping)', () => decodeMessage(pingBytes), `${pingBytes.length} bytes, validated`],
    ['encodePing (heartbeat fast path)', () => encodePing(7, 1795524134550.4294, undefined, 0.83), `${pingBytes.length} bytes, same bytes as encodeMessage(ping)`],
    ['decodeMessage(pong)', () => decodeMessage(pongBytes), `${pongBytes.length} bytes, validated`],
    ['readPong (heartbeat fast path)', () => readPong(pongBytes, pongFields), `${pongBytes.length} bytes, validated, no object`],
    ['JSON.stringify(body)', () => JSON.stringify(BODY), `${json.length} bytes`],
    ['JSON.parse(body)', () => JSON.parse(json) as unknown, `${json.length} bytes, not validated`],
  ];
  for (const [name, fn, note] of codec) out.push({ name, messages: 0, perSecond: rate(fn, ms), note });
  return out;
}

export function throughputTable(results: readonly ThroughputResult[]): string[] {
  return [
    `Message body: \`${JSON.stringify(BODY)}\`.`,
    '',
    '| what | messages per second | note |',
    '|---|---:|---|',
    ...results.map((r) => `| ${r.name} | ${Math.round(r.perSecond).toLocaleString('en-US')} | ${r.note}${r.messages ? `; ${r.messages.toLocaleString('en-US')} messages` : ''} |`),
  ];
}
