/**
 * Message codec: `Message` objects to msgpack arrays and back. Decoding validates
 * the shape of every message and throws `ProtocolError` on anything else, so a
 * peer's bad bytes never reach application code.
 */
import { Packr } from 'msgpackr';
import { MessageType, Visibility } from './constants.js';
import { ErrorCode, ProtocolError } from './errors.js';
import type { HelloOptions, Message, WelcomeOptions } from './messages.js';

// Plain msgpack only (no msgpackr record extension), so any msgpack library can talk to us.
const packr = new Packr({ useRecords: false, variableMapSize: true, encodeUndefinedAsNil: true, int64AsType: 'number' });

function trimmed(fields: unknown[]): unknown[] {
  let end = fields.length;
  while (end > 0 && fields[end - 1] === undefined) end--;
  return end === fields.length ? fields : fields.slice(0, end);
}

/** Encodes one message to its msgpack payload (no frame header). */
export function encodeMessage(message: Message): Uint8Array {
  return packr.pack(toArray(message));
}

function toArray(m: Message): unknown[] {
  switch (m.type) {
    case MessageType.Hello:
      return [m.type, m.version, m.clientId, m.options];
    case MessageType.Welcome:
      return [m.type, m.version, m.sessionId, m.peerId, m.interval, m.timeout, m.serverTime, m.options];
    case MessageType.Ping:
      return trimmed([m.type, m.seq, m.ts, m.ack, m.rtt]);
    case MessageType.Pong:
      return trimmed([m.type, m.seq, m.echoTs, m.time, m.ack]);
    case MessageType.Data:
      // Never trim `body`: an undefined body goes out as nil, not as a missing field.
      return m.ack === undefined ? [m.type, m.seq, m.body] : [m.type, m.seq, m.body, m.ack];
    case MessageType.Ack:
      return [m.type, m.ack];
    case MessageType.Close:
      return [m.type, m.code, m.reason];
    case MessageType.GoAway:
      return [m.type, m.code, m.reconnectDelay, m.reason];
    case MessageType.Status:
      return [m.type, m.visibility];
  }
}

function malformed(what: string): ProtocolError {
  return new ProtocolError(ErrorCode.MalformedMessage, `malformed message: ${what}`);
}

function num(a: readonly unknown[], i: number, name: string): number {
  const v = a[i];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw malformed(`${name} must be a finite number`);
  // -0 would not survive a re-encode (msgpackr writes it as integer 0): decode it as 0.
  return v + 0;
}

function uint(a: readonly unknown[], i: number, name: string): number {
  const v = num(a, i, name);
  if (!Number.isInteger(v) || v < 0) throw malformed(`${name} must be a non-negative integer`);
  return v;
}

function optUint(a: readonly unknown[], i: number, name: string): number | undefined {
  return a[i] === undefined || a[i] === null ? undefined : uint(a, i, name);
}

function optNum(a: readonly unknown[], i: number, name: string): number | undefined {
  return a[i] === undefined || a[i] === null ? undefined : num(a, i, name);
}

function str(a: readonly unknown[], i: number, name: string, max = 256): string {
  const v = a[i];
  if (typeof v !== 'string') throw malformed(`${name} must be a string`);
  if (v.length > max) throw malformed(`${name} longer than ${max} characters`);
  return v;
}

function record(a: readonly unknown[], i: number, name: string): Record<string, unknown> {
  const v = a[i];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) throw malformed(`${name} must be a map`);
  return v as Record<string, unknown>;
}

function helloOptions(o: Record<string, unknown>): HelloOptions {
  const out: { interval?: number; token?: string; resume?: { session: string; ack: number } } = {};
  if (o['interval'] != null) out.interval = uint([o['interval']], 0, 'hello.options.interval');
  if (o['token'] != null) out.token = str([o['token']], 0, 'hello.options.token', 4096);
  if (o['resume'] != null) {
    const r = record([o['resume']], 0, 'hello.options.resume');
    out.resume = { session: str([r['session']], 0, 'resume.session'), ack: uint([r['ack']], 0, 'resume.ack') };
  }
  return out;
}

function welcomeOptions(o: Record<string, unknown>): WelcomeOptions {
  const out: { resumed?: boolean; ack?: number; minPingInterval?: number; resumeWindow?: number } = {};
  if (o['resumed'] != null) out.resumed = o['resumed'] === true;
  if (o['ack'] != null) out.ack = uint([o['ack']], 0, 'welcome.options.ack');
  if (o['minPingInterval'] != null) out.minPingInterval = uint([o['minPingInterval']], 0, 'welcome.options.minPingInterval');
  if (o['resumeWindow'] != null) out.resumeWindow = uint([o['resumeWindow']], 0, 'welcome.options.resumeWindow');
  return out;
}

const visibilities: ReadonlySet<unknown> = new Set(Object.values(Visibility));

/**
 * Decodes one msgpack payload into a validated `Message`.
 * @throws ProtocolError with `ERR_VIGIL_MALFORMED_MESSAGE` or `ERR_VIGIL_UNKNOWN_MESSAGE_TYPE`.
 */
export function decodeMessage(payload: Uint8Array): Message {
  let a: unknown;
  try {
    a = packr.unpack(payload);
  } catch (cause) {
    throw new ProtocolError(ErrorCode.MalformedMessage, 'malformed message: not valid msgpack', undefined, { cause });
  }
  if (!Array.isArray(a) || a.length === 0) throw malformed('not a non-empty array');
  const type: unknown = a[0];
  switch (type) {
    case MessageType.Hello:
      return { type, version: uint(a, 1, 'version'), clientId: str(a, 2, 'clientId'), options: helloOptions(record(a, 3, 'options')) };
    case MessageType.Welcome:
      return {
        type,
        version: uint(a, 1, 'version'),
        sessionId: str(a, 2, 'sessionId'),
        peerId: str(a, 3, 'peerId'),
        interval: uint(a, 4, 'interval'),
        timeout: uint(a, 5, 'timeout'),
        serverTime: num(a, 6, 'serverTime'),
        options: welcomeOptions(record(a, 7, 'options')),
      };
    case MessageType.Ping: {
      const ack = optUint(a, 3, 'ack');
      const rtt = optNum(a, 4, 'rtt');
      return { type, seq: uint(a, 1, 'seq'), ts: num(a, 2, 'ts'), ...(ack === undefined ? {} : { ack }), ...(rtt === undefined ? {} : { rtt }) };
    }
    case MessageType.Pong: {
      const ack = optUint(a, 4, 'ack');
      return { type, seq: uint(a, 1, 'seq'), echoTs: num(a, 2, 'echoTs'), time: num(a, 3, 'time'), ...(ack === undefined ? {} : { ack }) };
    }
    case MessageType.Data: {
      if (a.length < 3) throw malformed('data needs seq and body');
      const ack = optUint(a, 3, 'ack');
      return { type, seq: uint(a, 1, 'seq'), body: a[2], ...(ack === undefined ? {} : { ack }) };
    }
    case MessageType.Ack:
      return { type, ack: uint(a, 1, 'ack') };
    case MessageType.Close:
      return { type, code: uint(a, 1, 'code'), reason: str(a, 2, 'reason', 1024) };
    case MessageType.GoAway:
      return { type, code: uint(a, 1, 'code'), reconnectDelay: uint(a, 2, 'reconnectDelay'), reason: str(a, 3, 'reason', 1024) };
    case MessageType.Status: {
      const visibility = a[1];
      if (!visibilities.has(visibility)) throw malformed('status.visibility is not a known visibility');
      return { type, visibility: visibility as Visibility };
    }
    default:
      throw new ProtocolError(ErrorCode.UnknownMessageType, `unknown message type ${typeof type === 'number' ? type : typeof type}`);
  }
}
