import fc from 'fast-check';
import { pack } from 'msgpackr';
import { decodeMessage, encodeMessage } from '../src/codec.js';
import { CloseCode, MessageType, Visibility } from '../src/constants.js';
import { ErrorCode, ProtocolError } from '../src/errors.js';
import type { Message } from '../src/messages.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));
const hex = (u: Uint8Array): string => Buffer.from(u).toString('hex');

/** Asserts that decoding `payload` throws a ProtocolError with `code` and returns it. */
function rejects(payload: Uint8Array, code: ErrorCode): ProtocolError {
  let caught: unknown;
  try {
    decodeMessage(payload);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ProtocolError);
  const pe = caught as ProtocolError;
  expect(pe.code).toBe(code);
  expect(pe.closeCode).toBe(CloseCode.ProtocolError);
  return pe;
}

describe('encodeMessage byte fixtures', () => {
  const fixtures: [string, Message, number[]][] = [
    ['ping [3, 7, 1000]', { type: MessageType.Ping, seq: 7, ts: 1000 }, [0x93, 0x03, 0x07, 0xcd, 0x03, 0xe8]],
    [
      'hello [1, 1, "ab", {interval: 500}]',
      { type: MessageType.Hello, version: 1, clientId: 'ab', options: { interval: 500 } },
      [0x94, 0x01, 0x01, 0xa2, 0x61, 0x62, 0x81, 0xa8, ...ascii('interval'), 0xcd, 0x01, 0xf4],
    ],
    ['hello with empty clientId and options', { type: MessageType.Hello, version: 1, clientId: '', options: {} }, [0x94, 0x01, 0x01, 0xa0, 0x80]],
    [
      'welcome [2, 1, "s", "p", 2000, 6000, 5, {}]',
      { type: MessageType.Welcome, version: 1, sessionId: 's', peerId: 'p', interval: 2000, timeout: 6000, serverTime: 5, options: {} },
      [0x98, 0x02, 0x01, 0xa1, 0x73, 0xa1, 0x70, 0xcd, 0x07, 0xd0, 0xcd, 0x17, 0x70, 0x05, 0x80],
    ],
    ['pong [4, 7, 1000, 2000]', { type: MessageType.Pong, seq: 7, echoTs: 1000, time: 2000 }, [0x94, 0x04, 0x07, 0xcd, 0x03, 0xe8, 0xcd, 0x07, 0xd0]],
    ['pong with ack', { type: MessageType.Pong, seq: 1, echoTs: 2, time: 3, ack: 4 }, [0x95, 0x04, 0x01, 0x02, 0x03, 0x04]],
    ['data [5, 1, "hi"]', { type: MessageType.Data, seq: 1, body: 'hi' }, [0x93, 0x05, 0x01, 0xa2, 0x68, 0x69]],
    ['data with ack', { type: MessageType.Data, seq: 2, body: null, ack: 9 }, [0x94, 0x05, 0x02, 0xc0, 0x09]],
    ['data with an undefined body keeps the body as nil', { type: MessageType.Data, seq: 1, body: undefined }, [0x93, 0x05, 0x01, 0xc0]],
    ['ack [6, 3]', { type: MessageType.Ack, ack: 3 }, [0x92, 0x06, 0x03]],
    ['close [7, 1000, "bye"]', { type: MessageType.Close, code: 1000, reason: 'bye' }, [0x93, 0x07, 0xcd, 0x03, 0xe8, 0xa3, 0x62, 0x79, 0x65]],
    ['goaway [8, 1001, 250, ""]', { type: MessageType.GoAway, code: 1001, reconnectDelay: 250, reason: '' }, [0x94, 0x08, 0xcd, 0x03, 0xe9, 0xcc, 0xfa, 0xa0]],
    ['status [9, "hidden"]', { type: MessageType.Status, visibility: Visibility.Hidden }, [0x92, 0x09, 0xa6, ...ascii('hidden')]],
    ['ping with ack only', { type: MessageType.Ping, seq: 1, ts: 2, ack: 3 }, [0x94, 0x03, 0x01, 0x02, 0x03]],
    [
      'ping with rtt only: ack slot is nil',
      { type: MessageType.Ping, seq: 1, ts: 2, rtt: 12.5 },
      [0x95, 0x03, 0x01, 0x02, 0xc0, 0xcb, 0x40, 0x29, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
    ],
  ];

  it.each(fixtures)('%s', (_name, message, expected) => {
    expect(hex(encodeMessage(message))).toBe(hex(bytes(...expected)));
  });
});

describe('decodeMessage byte fixtures', () => {
  it('decodes a hand-written ping', () => {
    expect(decodeMessage(bytes(0x93, 0x03, 0x07, 0xcd, 0x03, 0xe8))).toStrictEqual({ type: 3, seq: 7, ts: 1000 });
  });

  it('decodes a hand-written hello with every option', () => {
    const payload = bytes(
      0x94, 0x01, 0x01, 0xa2, 0x61, 0x62,
      0x83,
      0xa8, ...ascii('interval'), 0xcd, 0x01, 0xf4,
      0xa5, ...ascii('token'), 0xa1, 0x74,
      0xa6, ...ascii('resume'), 0x82, 0xa7, ...ascii('session'), 0xa1, 0x73, 0xa3, ...ascii('ack'), 0x05,
    );
    expect(decodeMessage(payload)).toStrictEqual({
      type: 1,
      version: 1,
      clientId: 'ab',
      options: { interval: 500, token: 't', resume: { session: 's', ack: 5 } },
    });
  });

  it('decodes a uint64 serverTime in welcome as a number', () => {
    // 1_700_000_000_000 = 0x0000018bcfe56800
    const payload = bytes(0x98, 0x02, 0x01, 0xa1, 0x73, 0xa1, 0x70, 0xcd, 0x07, 0xd0, 0xcd, 0x17, 0x70, 0xcf, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, 0x80);
    expect(decodeMessage(payload)).toStrictEqual({
      type: 2,
      version: 1,
      sessionId: 's',
      peerId: 'p',
      interval: 2000,
      timeout: 6000,
      serverTime: 1_700_000_000_000,
      options: {},
    });
  });

  it('treats nil optional fields as absent and ignores extra trailing fields', () => {
    // [3, 7, 1000, nil, nil, "x"]
    expect(decodeMessage(bytes(0x96, 0x03, 0x07, 0xcd, 0x03, 0xe8, 0xc0, 0xc0, 0xa1, 0x78))).toStrictEqual({ type: 3, seq: 7, ts: 1000 });
    // [4, 1, 2, 3, nil]
    expect(decodeMessage(bytes(0x95, 0x04, 0x01, 0x02, 0x03, 0xc0))).toStrictEqual({ type: 4, seq: 1, echoTs: 2, time: 3 });
  });

  it('decodes a float -0 timestamp as 0, so the message re-encodes to itself', () => {
    // [3, 1, float64 -0]
    const decoded = decodeMessage(bytes(0x93, 0x03, 0x01, 0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0));
    expect(Object.is((decoded as { ts: number }).ts, 0)).toBe(true);
    expect(decodeMessage(encodeMessage(decoded))).toEqual(decoded);
  });

  it('reads nil hello options as an empty options map', () => {
    expect(decodeMessage(bytes(0x94, 0x01, 0x01, 0xa0, 0xc0))).toStrictEqual({ type: 1, version: 1, clientId: '', options: {} });
    expect(decodeMessage(bytes(0x93, 0x01, 0x01, 0xa0))).toStrictEqual({ type: 1, version: 1, clientId: '', options: {} });
  });

  it('ignores unknown option keys', () => {
    // [1, 1, "", {"x": 1}]
    expect(decodeMessage(bytes(0x94, 0x01, 0x01, 0xa0, 0x81, 0xa1, 0x78, 0x01))).toStrictEqual({ type: 1, version: 1, clientId: '', options: {} });
  });

  it('decodes welcome options', () => {
    const m: Message = {
      type: MessageType.Welcome,
      version: 1,
      sessionId: 's',
      peerId: 'p',
      interval: 1,
      timeout: 2,
      serverTime: 3,
      options: { resumed: true, ack: 4, minPingInterval: 5 },
    };
    expect(decodeMessage(encodeMessage(m))).toStrictEqual(m);
  });
});

describe('round trip', () => {
  const messages: Message[] = [
    { type: MessageType.Hello, version: 1, clientId: 'client-1', options: {} },
    { type: MessageType.Hello, version: 1, clientId: '', options: { interval: 250, token: 'secret', resume: { session: 'abc', ack: 0 } } },
    { type: MessageType.Welcome, version: 1, sessionId: 'sess', peerId: 'peer', interval: 2000, timeout: 6000, serverTime: 1_700_000_000_123.5, options: {} },
    { type: MessageType.Welcome, version: 1, sessionId: 'sess', peerId: 'peer', interval: 2000, timeout: 6000, serverTime: 0, options: { resumed: false, ack: 7, minPingInterval: 100 } },
    { type: MessageType.Ping, seq: 1, ts: 123.25 },
    { type: MessageType.Ping, seq: 4_294_967_295, ts: 1, ack: 2, rtt: 0.5 },
    { type: MessageType.Pong, seq: 1, echoTs: 123.25, time: -5 },
    { type: MessageType.Pong, seq: 2, echoTs: 1, time: 2, ack: 3 },
    { type: MessageType.Data, seq: 1, body: { nested: [1, 'two', null, true], n: -1.5 } },
    { type: MessageType.Data, seq: 3, body: null },
    { type: MessageType.Ack, ack: 0 },
    { type: MessageType.Close, code: CloseCode.HeartbeatTimeout, reason: 'heartbeat-timeout' },
    { type: MessageType.GoAway, code: CloseCode.GoingAway, reconnectDelay: 1000, reason: 'restart' },
    ...Object.values(Visibility).map((visibility): Message => ({ type: MessageType.Status, visibility })),
  ];

  it.each(messages.map((m) => [JSON.stringify(m), m] as const))('%s', (_name, m) => {
    expect(decodeMessage(encodeMessage(m))).toStrictEqual(m);
  });

  it('omits undefined optional trailing fields', () => {
    expect(hex(encodeMessage({ type: MessageType.Ping, seq: 1, ts: 2 }))).toBe('93030102');
    expect(hex(encodeMessage({ type: MessageType.Pong, seq: 1, echoTs: 2, time: 3 }))).toBe('9404010203');
    expect(hex(encodeMessage({ type: MessageType.Data, seq: 1, body: 0 }))).toBe('93050100');
  });

  it('round-trips a binary data body as bytes', () => {
    const decoded = decodeMessage(encodeMessage({ type: MessageType.Data, seq: 2, body: new Uint8Array([1, 2, 3]), ack: 1 }));
    expect(decoded.type).toBe(MessageType.Data);
    const body = (decoded as { body: unknown }).body;
    expect(body).toBeInstanceOf(Uint8Array);
    expect([...(body as Uint8Array)]).toStrictEqual([1, 2, 3]);
  });

  it('decodes an undefined data body as null', () => {
    expect(decodeMessage(encodeMessage({ type: MessageType.Data, seq: 1, body: undefined }))).toStrictEqual({ type: 5, seq: 1, body: null });
  });

  it('round-trips any ping, pong and data fields', () => {
    const uint = fc.integer({ min: 0, max: 2 ** 32 - 1 });
    // msgpack has no negative integer zero: -0 goes out as the integer 0.
    const time = fc.double({ noNaN: true, noDefaultInfinity: true }).filter((t) => !Object.is(t, -0));
    fc.assert(
      fc.property(uint, time, fc.option(uint, { nil: undefined }), fc.option(time, { nil: undefined }), (seq, ts, ack, rtt) => {
        const ping: Message = { type: MessageType.Ping, seq, ts, ...(ack === undefined ? {} : { ack }), ...(rtt === undefined ? {} : { rtt }) };
        expect(decodeMessage(encodeMessage(ping))).toStrictEqual(ping);
        const pong: Message = { type: MessageType.Pong, seq, echoTs: ts, time: ts, ...(ack === undefined ? {} : { ack }) };
        expect(decodeMessage(encodeMessage(pong))).toStrictEqual(pong);
        const data: Message = { type: MessageType.Data, seq, body: [seq, 'x'], ...(ack === undefined ? {} : { ack }) };
        expect(decodeMessage(encodeMessage(data))).toStrictEqual(data);
      }),
    );
  });
});

describe('decodeMessage rejects', () => {
  it('invalid msgpack with the decoder error as cause', () => {
    // str8 declaring 5 bytes, carrying 1
    const pe = rejects(bytes(0xd9, 0x05, 0x61), ErrorCode.MalformedMessage);
    expect(pe.message).toBe('malformed message: not valid msgpack');
    expect(pe.cause).toBeInstanceOf(Error);
  });

  it.each([
    ['truncated array', [0x93, 0x03, 0x07]],
    ['truncated uint16', [0x93, 0x03, 0x07, 0xcd, 0x03]],
    ['trailing bytes after the message', [0x93, 0x03, 0x07, 0x01, 0xff]],
    ['empty payload', []],
  ])('%s as not valid msgpack', (_name, b) => {
    expect(rejects(bytes(...b), ErrorCode.MalformedMessage).message).toBe('malformed message: not valid msgpack');
  });

  it.each([
    ['a positive integer', [0x03]],
    ['a string', [0xa1, 0x61]],
    ['a map', [0x81, 0xa1, 0x61, 0x01]],
    ['nil', [0xc0]],
    ['binary', [0xc4, 0x01, 0x03]],
    ['an empty array', [0x90]],
  ])('%s: not a non-empty array', (_name, b) => {
    expect(rejects(bytes(...b), ErrorCode.MalformedMessage).message).toBe('malformed message: not a non-empty array');
  });

  it.each([
    ['reserved tag 0', [0x91, 0x00], 'unknown message type 0'],
    ['reserved tag 10', [0x91, 0x0a], 'unknown message type 10'],
    ['tag 255', [0x91, 0xcc, 0xff], 'unknown message type 255'],
    ['negative tag', [0x91, 0xff], 'unknown message type -1'],
    ['float tag 3.5', [0x91, 0xcb, 0x40, 0x0c, 0, 0, 0, 0, 0, 0], 'unknown message type 3.5'],
    ['string tag', [0x91, 0xa4, ...ascii('ping')], 'unknown message type string'],
    ['nil tag', [0x91, 0xc0], 'unknown message type object'],
  ])('%s with ERR_VIGIL_UNKNOWN_MESSAGE_TYPE', (_name, b, message) => {
    expect(rejects(bytes(...b), ErrorCode.UnknownMessageType).message).toBe(message);
  });

  it('a map tag whose toString and valueOf are not functions, without a TypeError', () => {
    // [{toString: 0, valueOf: 0}]
    const payload = bytes(0x91, 0x82, 0xa8, ...ascii('toString'), 0x00, 0xa7, ...ascii('valueOf'), 0x00);
    expect(rejects(payload, ErrorCode.UnknownMessageType).message).toBe('unknown message type object');
  });

  const longString = (n: number): string => 'x'.repeat(n);
  const wrong: [string, unknown[], string][] = [
    ['hello without version', [1], 'version must be a finite number'],
    ['hello with a string version', [1, '1', 'a', {}], 'version must be a finite number'],
    ['hello with a numeric clientId', [1, 1, 7, {}], 'clientId must be a string'],
    ['hello with array options', [1, 1, 'a', [1]], 'options must be a map'],
    ['hello with binary options', [1, 1, 'a', new Uint8Array([1])], 'options must be a map'],
    ['hello with a float interval', [1, 1, 'a', { interval: 1.5 }], 'hello.options.interval must be a non-negative integer'],
    ['hello with a numeric token', [1, 1, 'a', { token: 5 }], 'hello.options.token must be a string'],
    ['hello with a scalar resume', [1, 1, 'a', { resume: 5 }], 'hello.options.resume must be a map'],
    ['hello with a resume missing its session', [1, 1, 'a', { resume: { ack: 1 } }], 'resume.session must be a string'],
    ['hello with a negative resume ack', [1, 1, 'a', { resume: { session: 's', ack: -1 } }], 'resume.ack must be a non-negative integer'],
    ['welcome with a float interval', [2, 1, 's', 'p', 1.5, 2, 3, {}], 'interval must be a non-negative integer'],
    ['welcome without serverTime', [2, 1, 's', 'p', 1, 2], 'serverTime must be a finite number'],
    ['welcome with a string ack option', [2, 1, 's', 'p', 1, 2, 3, { ack: '1' }], 'welcome.options.ack must be a finite number'],
    ['ping with a string seq', [3, '7', 1000], 'seq must be a finite number'],
    ['ping with a negative seq', [3, -1, 1000], 'seq must be a non-negative integer'],
    ['ping with a fractional seq', [3, 1.5, 1000], 'seq must be a non-negative integer'],
    ['ping with a string ts', [3, 1, 'now'], 'ts must be a finite number'],
    ['ping with a NaN ts', [3, 1, Number.NaN], 'ts must be a finite number'],
    ['ping with an infinite ts', [3, 1, Number.POSITIVE_INFINITY], 'ts must be a finite number'],
    ['ping with a negative ack', [3, 1, 1, -2], 'ack must be a non-negative integer'],
    ['ping with a string rtt', [3, 1, 1, null, '5'], 'rtt must be a finite number'],
    ['pong without time', [4, 1, 1], 'time must be a finite number'],
    ['pong with a boolean echoTs', [4, 1, true, 1], 'echoTs must be a finite number'],
    ['data without body', [5, 1], 'data needs seq and body'],
    ['data with a negative seq', [5, -3, 'x'], 'seq must be a non-negative integer'],
    ['ack without ack', [6], 'ack must be a finite number'],
    ['close with a numeric reason', [7, 1000, 5], 'reason must be a string'],
    ['close with a string code', [7, '1000', ''], 'code must be a finite number'],
    ['goaway with a negative reconnectDelay', [8, 1001, -1, ''], 'reconnectDelay must be a non-negative integer'],
    ['status without visibility', [9], 'status.visibility is not a known visibility'],
    ['status with an unknown visibility', [9, 'sleeping'], 'status.visibility is not a known visibility'],
    ['status with a numeric visibility', [9, 1], 'status.visibility is not a known visibility'],
    ['an over-long clientId', [1, 1, longString(257), {}], 'clientId longer than 256 characters'],
    ['an over-long sessionId', [2, 1, longString(257), 'p', 1, 2, 3, {}], 'sessionId longer than 256 characters'],
    ['an over-long token', [1, 1, 'a', { token: longString(4097) }], 'hello.options.token longer than 4096 characters'],
    ['an over-long resume session', [1, 1, 'a', { resume: { session: longString(257), ack: 0 } }], 'resume.session longer than 256 characters'],
    ['an over-long close reason', [7, 1000, longString(1025)], 'reason longer than 1024 characters'],
    ['an over-long goaway reason', [8, 1001, 0, longString(1025)], 'reason longer than 1024 characters'],
  ];

  it.each(wrong)('%s', (_name, array, what) => {
    expect(rejects(pack(array), ErrorCode.MalformedMessage).message).toBe(`malformed message: ${what}`);
  });

  it.each([
    ['clientId', [1, 1, longString(256), {}]],
    ['token', [1, 1, 'a', { token: longString(4096) }]],
    ['close reason', [7, 1000, longString(1024)]],
  ])('accepts a %s of exactly the maximum length', (_name, array) => {
    expect(() => decodeMessage(pack(array))).not.toThrow();
  });
});

describe('decodeMessage never throws anything but ProtocolError', () => {
  function decodesOrRejects(payload: Uint8Array): void {
    try {
      decodeMessage(payload);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      expect([ErrorCode.MalformedMessage, ErrorCode.UnknownMessageType]).toContain(error.code);
    }
  }

  it('for arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 96 }), decodesOrRejects), { numRuns: 2000 });
  });

  it('for arbitrary bytes after a valid array header and tag', () => {
    const prefixed = fc
      .tuple(fc.integer({ min: 0x91, max: 0x9f }), fc.integer({ min: 0, max: 11 }), fc.uint8Array({ maxLength: 64 }))
      .map(([header, tag, rest]) => Uint8Array.from([header, tag, ...rest]));
    fc.assert(fc.property(prefixed, decodesOrRejects), { numRuns: 2000 });
  });

  it('for well-formed msgpack arrays of arbitrary values under every tag', () => {
    const key = fc.constantFrom('interval', 'token', 'resume', 'session', 'ack', 'resumed', 'minPingInterval', 'toString', 'valueOf', 'constructor', 'x');
    const leaf = fc.oneof(
      fc.integer(),
      fc.double(),
      fc.string({ maxLength: 8 }),
      fc.constant(null),
      fc.boolean(),
      fc.uint8Array({ maxLength: 4 }),
      fc.constantFrom(...Object.values(Visibility)),
    );
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(key, tie('value'), { maxKeys: 4 })),
    }));
    const message = fc.tuple(fc.oneof(fc.integer({ min: 0, max: 11 }), value), fc.array(value, { maxLength: 8 })).map(([tag, rest]) => [tag, ...rest]);
    fc.assert(fc.property(message, (m) => decodesOrRejects(pack(m))), { numRuns: 3000 });
  });
});
