/**
 * The documentation stays in step with the code: every `ErrorCode` has its entry in
 * docs/errors.md, every `CloseCode` and `MessageType` its row in docs/protocol.md,
 * neither document names a code the catalogs do not have, and the worked example's
 * bytes are exactly what the codec produces.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { decodeMessage, encodeMessage } from '../src/codec.js';
import { CloseCode, MessageType } from '../src/constants.js';
import { ErrorCode } from '../src/errors.js';
import { FrameDecoder, encodeFrame } from '../src/frame-decoder.js';
import type { Message } from '../src/messages.js';

const docs = path.join(__dirname, '../../../docs');
const errorsDoc = readFileSync(path.join(docs, 'errors.md'), 'utf8');
const protocolDoc = readFileSync(path.join(docs, 'protocol.md'), 'utf8');

/** Table rows of protocol.md that start with a number, as `[number, second cell]`. */
function numberedRows(doc: string): [number, string][] {
  return [...doc.matchAll(/^\|\s*(\d+)\s*\|\s*([^|]*?)\s*\|/gm)].map((m) => [Number(m[1]), m[2]!]);
}

/** The TCP frames of the worked example: one per fenced block, plus inline ones. */
function exampleFrames(doc: string): Uint8Array[] {
  const start = doc.indexOf('## 13. Worked example');
  const end = doc.indexOf('## 14.', start);
  const section = doc.slice(start, end);
  const hex: string[] = [];
  for (const block of section.matchAll(/```\n([\s\S]*?)```/g)) {
    hex.push(block[1]!.split('\n').map((line) => /^(?:[0-9a-f]{2} )*[0-9a-f]{2}(?= |$)/.exec(line)?.[0] ?? '').join(' '));
  }
  for (const inline of section.matchAll(/`((?:[0-9a-f]{2} ){4,}[0-9a-f]{2})`/g)) hex.push(inline[1]!);
  return hex.map((h) => Uint8Array.from(h.trim().split(/\s+/), (b) => parseInt(b, 16)));
}

describe('docs/errors.md', () => {
  test.each(Object.values(ErrorCode))('documents `%s`', (code) => {
    expect(errorsDoc).toContain(`\`${code}\``);
  });

  test('names no error code outside ErrorCode', () => {
    const known: ReadonlySet<string> = new Set(Object.values(ErrorCode));
    const named = new Set(errorsDoc.match(/ERR_VIGIL_[A-Z0-9_]+/g));
    expect([...named].filter((c) => !known.has(c))).toEqual([]);
  });
});

describe('docs/protocol.md', () => {
  const rows = numberedRows(protocolDoc);

  test.each(Object.entries(CloseCode))('has a close code row for %s (%d)', (name, code) => {
    expect(rows).toContainEqual([code, `\`${name}\``]);
  });

  test.each(Object.entries(MessageType))('has a message row for %s (%d)', (name, tag) => {
    expect(rows.some(([n, cell]) => n === tag && cell.startsWith(`\`${name}\``))).toBe(true);
  });

  test('has no close code row outside CloseCode', () => {
    const known: ReadonlySet<number> = new Set(Object.values(CloseCode));
    const closeRows = rows.filter(([n]) => n >= 1000);
    expect(closeRows.filter(([n]) => !known.has(n))).toEqual([]);
  });

  test('worked example frames are the codec\'s exact output', () => {
    // The messages of docs/protocol.md §13, in order.
    const messages: Message[] = [
      { type: MessageType.Hello, version: 1, clientId: 'sensor-7', options: { interval: 1000 } },
      { type: MessageType.Welcome, version: 1, sessionId: 'c0ffee01', peerId: 'sensor-7', interval: 1000, timeout: 3000, serverTime: 1700000000000, options: {} },
      { type: MessageType.Ping, seq: 1, ts: 1700000001000 },
      { type: MessageType.Pong, seq: 1, echoTs: 1700000001000, time: 1700000000962.5 },
      { type: MessageType.Ping, seq: 2, ts: 1700000001950, rtt: 12 },
      { type: MessageType.Close, code: 1000, reason: 'bye' },
    ];
    const frames = exampleFrames(protocolDoc);
    expect(frames).toEqual(messages.map((m) => encodeFrame(encodeMessage(m))));
    for (const [i, frame] of frames.entries()) {
      const payloads = new FrameDecoder().push(frame);
      expect(payloads).toHaveLength(1);
      expect(decodeMessage(payloads[0]!)).toEqual(messages[i]);
    }
  });
});
