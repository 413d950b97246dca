import { NAME_MAX_LENGTH, TEXT_MAX_LENGTH, cleanText, parseClientMessage, parseServerMessage } from '../src/chat-protocol.js';

describe('cleanText', () => {
  it('replaces terminal escapes, bidi overrides and line breaks, collapses spaces and trims', () => {
    expect(cleanText('  \u001b[2J\u001b[31mred\u0007\r\nline \u202eevil\u202c  ', 100)).toBe('[2J [31mred line evil');
  });

  it('caps the length', () => {
    expect(cleanText('abcdef', 3)).toBe('abc');
  });
});

describe('parseClientMessage', () => {
  it('accepts join and say, cleaned', () => {
    expect(parseClientMessage({ type: 'join', name: ' alice\n' })).toEqual({ type: 'join', name: 'alice' });
    expect(parseClientMessage({ type: 'say', text: 'hi\tthere' })).toEqual({ type: 'say', text: 'hi there' });
  });

  it('caps names and texts', () => {
    expect(parseClientMessage({ type: 'join', name: 'n'.repeat(100) })).toEqual({ type: 'join', name: 'n'.repeat(NAME_MAX_LENGTH) });
    expect(parseClientMessage({ type: 'say', text: 't'.repeat(5000) })).toEqual({ type: 'say', text: 't'.repeat(TEXT_MAX_LENGTH) });
  });

  it.each([
    ['null', null],
    ['a string', 'join'],
    ['an array', ['join', 'alice']],
    ['an unknown type', { type: 'shout', text: 'x' }],
    ['a join without a name', { type: 'join' }],
    ['a join with a number for a name', { type: 'join', name: 7 }],
    ['a join with a blank name', { type: 'join', name: ' \u0000 ' }],
    ['an empty say', { type: 'say', text: '' }],
    ['a server message', { type: 'said', from: 'a', text: 'b', at: 1 }],
  ])('rejects %s', (_what, body) => {
    expect(parseClientMessage(body)).toBeNull();
  });
});

describe('parseServerMessage', () => {
  it('accepts roster, said and presence', () => {
    const roster = { type: 'roster', members: [{ name: 'alice', state: 'online' }, { name: 'bob', state: 'slipping' }], you: 'alice' };
    expect(parseServerMessage(roster)).toEqual(roster);
    expect(parseServerMessage({ type: 'said', from: 'bob', text: 'hi', at: 5 })).toEqual({ type: 'said', from: 'bob', text: 'hi', at: 5 });
    expect(parseServerMessage({ type: 'presence', name: 'bob', state: 'offline', cause: 'heartbeat-timeout' })).toEqual({
      type: 'presence',
      name: 'bob',
      state: 'offline',
      cause: 'heartbeat-timeout',
    });
    // msgpack carries an absent optional field as nil.
    expect(parseServerMessage({ type: 'presence', name: 'bob', state: 'online', cause: null })).toEqual({ type: 'presence', name: 'bob', state: 'online' });
  });

  it('cleans what it shows', () => {
    expect(parseServerMessage({ type: 'said', from: 'm\u001b]0;x\u0007allory', text: 'a\u001b[1Ab', at: 1 })).toEqual({
      type: 'said',
      from: 'm ]0;x allory',
      text: 'a [1Ab',
      at: 1,
    });
  });

  it.each([
    ['a roster listing an offline member', { type: 'roster', members: [{ name: 'a', state: 'offline' }], you: 'a' }],
    ['a roster without you', { type: 'roster', members: [] }],
    ['a said without a time', { type: 'said', from: 'a', text: 'b' }],
    ['a said at NaN', { type: 'said', from: 'a', text: 'b', at: Number.NaN }],
    ['a presence with an unknown state', { type: 'presence', name: 'a', state: 'away' }],
    ['a client message', { type: 'join', name: 'a' }],
  ])('rejects %s', (_what, body) => {
    expect(parseServerMessage(body)).toBeNull();
  });
});
