import { RosterView, renderConnectionChange, renderMessage } from '../src/render.js';
import type { ServerMessage } from '../src/chat-protocol.js';

// Local time, so the printed clock does not depend on the machine's time zone.
const NOON = new Date(2024, 0, 1, 12, 0, 5);

function show(messages: readonly ServerMessage[]): { lines: string[]; roster: RosterView } {
  const roster = new RosterView();
  const lines = messages.map((m) => {
    roster.apply(m);
    return renderMessage(m, NOON, roster);
  });
  return { lines, roster };
}

describe('renderMessage and RosterView', () => {
  it('shows the roster, presence changes and chat lines', () => {
    const { lines, roster } = show([
      { type: 'roster', members: [{ name: 'alice', state: 'online' }, { name: 'bob', state: 'slipping' }], you: 'alice' },
      { type: 'presence', name: 'carol', state: 'online' },
      { type: 'said', from: 'carol', text: 'hi', at: new Date(2024, 0, 1, 11, 59, 59).getTime() },
      { type: 'presence', name: 'carol', state: 'slipping', cause: 'heartbeat-timeout' },
      { type: 'presence', name: 'carol', state: 'offline', cause: 'heartbeat-timeout' },
      { type: 'presence', name: 'bob', state: 'offline', cause: 'peer-close' },
      { type: 'presence', name: 'dave', state: 'offline', cause: 'reset' },
    ]);
    expect(lines).toEqual([
      '[12:00:05] * you are alice; in the room: alice, bob (slipping)',
      '[12:00:05] * carol is online',
      '[11:59:59] <carol> hi',
      '[12:00:05] * carol is slipping (no heartbeat for a while)',
      '[12:00:05] * carol went offline (no heartbeat)',
      '[12:00:05] * bob left',
      '[12:00:05] * dave went offline (connection reset)',
    ]);
    expect(roster.describe()).toBe('alice');
    expect(roster.you).toBe('alice');
  });

  it('shows an unfamiliar cause as it is, and a missing one as unknown', () => {
    const { lines } = show([
      { type: 'presence', name: 'eve', state: 'offline', cause: 'slow-consumer' },
      { type: 'presence', name: 'eve', state: 'offline' },
    ]);
    expect(lines).toEqual(['[12:00:05] * eve went offline (slow-consumer)', '[12:00:05] * eve went offline (unknown cause)']);
  });

  it('describes an empty room as nobody', () => {
    const roster = new RosterView();
    roster.apply({ type: 'roster', members: [{ name: 'alice', state: 'online' }], you: 'alice' });
    roster.clear();
    expect(roster.describe()).toBe('nobody');
  });
});

describe('renderConnectionChange', () => {
  it.each([
    [{ from: 'connecting', to: 'alive', cause: null }, null],
    [{ from: 'alive', to: 'suspect', cause: 'heartbeat-timeout' }, '[12:00:05] * server is slipping (no heartbeat for a while)'],
    [{ from: 'suspect', to: 'alive', cause: null }, '[12:00:05] * server is back'],
    [{ from: 'suspect', to: 'dead', cause: 'heartbeat-timeout' }, '[12:00:05] * connection lost (heartbeat-timeout); reconnecting'],
    [{ from: 'alive', to: 'closed', cause: 'peer-close' }, '[12:00:05] * connection closed (peer-close); reconnecting'],
    [{ from: 'alive', to: 'closed', cause: 'local-close' }, null],
  ] as const)('%j → %j', (change, line) => {
    expect(renderConnectionChange(change, NOON)).toBe(line);
  });
});
