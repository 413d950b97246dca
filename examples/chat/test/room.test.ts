import type { Cause, PeerState } from '@vigil/core';
import { Room } from '../src/room.js';

function change(peerId: string, to: PeerState, cause: Cause | null = null): { peerId: string; to: PeerState; cause: Cause | null } {
  return { peerId, to, cause };
}

/** A room with alice (a), bob (b) and carol (c) joined in that order. */
function roomOfThree(): Room {
  const room = new Room();
  room.join('a', 'alice');
  room.join('b', 'bob');
  room.join('c', 'carol');
  return room;
}

describe('Room', () => {
  describe('join', () => {
    it('sends the first member a roster of one and tells nobody else', () => {
      const room = new Room();
      expect(room.join('a', 'alice')).toEqual([
        { to: ['a'], message: { type: 'roster', members: [{ name: 'alice', state: 'online' }], you: 'alice' } },
        { to: [], message: { type: 'presence', name: 'alice', state: 'online' } },
      ]);
    });

    it('sends a later member everyone present and announces it to the others', () => {
      const room = new Room();
      room.join('a', 'alice');
      room.join('b', 'bob');
      expect(room.join('c', 'carol')).toEqual([
        {
          to: ['c'],
          message: {
            type: 'roster',
            members: [
              { name: 'alice', state: 'online' },
              { name: 'bob', state: 'online' },
              { name: 'carol', state: 'online' },
            ],
            you: 'carol',
          },
        },
        { to: ['a', 'b'], message: { type: 'presence', name: 'carol', state: 'online' } },
      ]);
    });

    it('suffixes a name someone present already uses, ignoring case', () => {
      const room = new Room();
      room.join('a', 'alice');
      room.join('a2', 'Alice');
      room.join('a3', 'alice');
      expect(room.roster().map((m) => m.name)).toEqual(['alice', 'Alice-2', 'alice-3']);
    });

    it('keeps a suffixed name within the length limit', () => {
      const room = new Room();
      const long = 'x'.repeat(24);
      room.join('a', long);
      const [roster] = room.join('b', long);
      expect(roster?.message).toMatchObject({ type: 'roster', you: `${'x'.repeat(22)}-2` });
    });

    it('answers a repeated join from a present member with the roster only', () => {
      const room = new Room();
      room.join('a', 'alice');
      room.join('b', 'bob');
      expect(room.join('a', 'alicia')).toEqual([
        {
          to: ['a'],
          message: {
            type: 'roster',
            members: [
              { name: 'alice', state: 'online' },
              { name: 'bob', state: 'online' },
            ],
            you: 'alice',
          },
        },
      ]);
    });
  });

  describe('say', () => {
    it('sends the line to every member, the sender included, stamped with the given time', () => {
      const room = roomOfThree();
      expect(room.say('b', 'hi all', 1_700_000_000_000)).toEqual([
        { to: ['a', 'b', 'c'], message: { type: 'said', from: 'bob', text: 'hi all', at: 1_700_000_000_000 } },
      ]);
    });

    it('ignores a peer that has not joined', () => {
      const room = roomOfThree();
      expect(room.say('x', 'let me in', 1)).toEqual([]);
    });

    it('is reached through receive()', () => {
      const room = new Room();
      room.receive('a', { type: 'join', name: 'alice' }, 0);
      expect(room.receive('a', { type: 'say', text: 'hello' }, 5)).toEqual([
        { to: ['a'], message: { type: 'said', from: 'alice', text: 'hello', at: 5 } },
      ]);
    });
  });

  describe('liveness', () => {
    it('turns a suspect member slipping, once, and tells the others with the cause', () => {
      const room = roomOfThree();
      expect(room.liveness(change('c', 'suspect', 'heartbeat-timeout'))).toEqual([
        { to: ['a', 'b'], message: { type: 'presence', name: 'carol', state: 'slipping', cause: 'heartbeat-timeout' } },
      ]);
      expect(room.liveness(change('c', 'suspect', 'heartbeat-timeout'))).toEqual([]);
      expect(room.member('c')).toEqual({ name: 'carol', state: 'slipping' });
    });

    it('brings a slipping member back online when it is alive again', () => {
      const room = roomOfThree();
      room.liveness(change('c', 'suspect', 'heartbeat-timeout'));
      expect(room.liveness(change('c', 'alive'))).toEqual([{ to: ['a', 'b'], message: { type: 'presence', name: 'carol', state: 'online' } }]);
      expect(room.liveness(change('c', 'alive'))).toEqual([]);
    });

    it('takes a dead member out of the room with the cause', () => {
      const room = roomOfThree();
      room.liveness(change('c', 'suspect', 'heartbeat-timeout'));
      expect(room.liveness(change('c', 'dead', 'heartbeat-timeout'))).toEqual([
        { to: ['a', 'b'], message: { type: 'presence', name: 'carol', state: 'offline', cause: 'heartbeat-timeout' } },
      ]);
      expect(room.member('c')).toBeUndefined();
      expect(room.roster()).toEqual([
        { name: 'alice', state: 'online' },
        { name: 'bob', state: 'online' },
      ]);
      expect(room.say('c', 'anyone?', 1)).toEqual([]);
    });

    it('reports a crash (transport closed without a close message) as offline with that cause', () => {
      const room = roomOfThree();
      expect(room.liveness(change('a', 'dead', 'closed-by-peer'))).toEqual([
        { to: ['b', 'c'], message: { type: 'presence', name: 'alice', state: 'offline', cause: 'closed-by-peer' } },
      ]);
    });

    it('reports an orderly close as offline with cause peer-close', () => {
      const room = roomOfThree();
      expect(room.liveness(change('b', 'closed', 'peer-close'))).toEqual([
        { to: ['a', 'c'], message: { type: 'presence', name: 'bob', state: 'offline', cause: 'peer-close' } },
      ]);
    });

    it('keeps a member whose session was replaced by a newer one of the same peer', () => {
      const room = roomOfThree();
      room.liveness(change('c', 'suspect', 'heartbeat-timeout'));
      expect(room.liveness(change('c', 'closed', 'replaced'))).toEqual([]);
      // The newer session starts alive: the member is online again.
      expect(room.liveness(change('c', 'alive'))).toEqual([{ to: ['a', 'b'], message: { type: 'presence', name: 'carol', state: 'online' } }]);
      expect(room.join('c', 'carol')).toHaveLength(1);
    });

    it('ignores peers that never joined', () => {
      const room = roomOfThree();
      expect(room.liveness(change('127.0.0.1:5000', 'dead', 'handshake-timeout'))).toEqual([]);
      expect(room.liveness(change('x', 'alive'))).toEqual([]);
      expect(room.liveness(change('x', 'suspect', 'heartbeat-timeout'))).toEqual([]);
      expect(room.size).toBe(3);
    });

    it('ignores connecting', () => {
      const room = roomOfThree();
      expect(room.liveness(change('a', 'connecting'))).toEqual([]);
    });
  });

  describe('rejoin', () => {
    it('lets a member that went offline join again under its name, at the end of the roster', () => {
      const room = roomOfThree();
      room.liveness(change('a', 'dead', 'heartbeat-timeout'));
      // The reconnected session's first state carries no news: the member is not in the room until it joins.
      expect(room.liveness(change('a', 'alive'))).toEqual([]);
      expect(room.join('a', 'alice')).toEqual([
        {
          to: ['a'],
          message: {
            type: 'roster',
            members: [
              { name: 'bob', state: 'online' },
              { name: 'carol', state: 'online' },
              { name: 'alice', state: 'online' },
            ],
            you: 'alice',
          },
        },
        { to: ['b', 'c'], message: { type: 'presence', name: 'alice', state: 'online' } },
      ]);
    });

    it('gives a returning member a suffix if its name was taken meanwhile', () => {
      const room = roomOfThree();
      room.liveness(change('a', 'dead', 'heartbeat-timeout'));
      room.join('z', 'alice');
      expect(room.join('a', 'alice')[0]?.message).toMatchObject({ type: 'roster', you: 'alice-2' });
    });
  });
});
