/**
 * The room: who is present and how they are doing, as a pure state machine keyed
 * by Vigil peer id. It is fed liveness changes (`VigilServer.changes$`) and parsed
 * chat messages, and returns what to send to whom. No sockets, no clock: the
 * caller stamps chat lines and does the sending.
 */
import type { Cause, StateChange } from '@vigil/core';
import { NAME_MAX_LENGTH, type ClientMessage, type PresenceState, type RosterEntry, type RosterState, type ServerMessage } from './chat-protocol.js';

/** One message for a set of peers. */
export interface Delivery {
  /** Peer ids to send to, in join order. May be empty: a presence change is still an event. */
  readonly to: readonly string[];
  readonly message: ServerMessage;
}

/** The part of a liveness change the room reads. */
export type LivenessChange = Pick<StateChange, 'peerId' | 'to' | 'cause'>;

interface Member {
  readonly name: string;
  state: RosterState;
}

export class Room {
  // Insertion order is join order; a member who rejoins goes to the end.
  private readonly members = new Map<string, Member>();

  /** Members present (online or slipping). */
  get size(): number {
    return this.members.size;
  }

  /** Everyone present, in join order. */
  roster(): RosterEntry[] {
    return [...this.members.values()].map(({ name, state }) => ({ name, state }));
  }

  /** The member a peer is, if it has joined and not gone offline since. */
  member(peerId: string): RosterEntry | undefined {
    const m = this.members.get(peerId);
    return m && { name: m.name, state: m.state };
  }

  /** Handles one parsed message from a peer; `at` (wall clock, ms since the epoch) stamps chat lines. */
  receive(peerId: string, message: ClientMessage, at: number): Delivery[] {
    switch (message.type) {
      case 'join':
        return this.join(peerId, message.name);
      case 'say':
        return this.say(peerId, message.text, at);
    }
  }

  /**
   * Enters the room (or re-enters it after going offline). A name already used by
   * someone present gets a `-2`, `-3`... suffix. A repeated join from a present
   * member changes nothing and only re-sends the roster.
   */
  join(peerId: string, name: string): Delivery[] {
    const existing = this.members.get(peerId);
    if (existing) return [this.rosterFor(peerId, existing.name)];
    const unique = this.uniqueName(name);
    this.members.set(peerId, { name: unique, state: 'online' });
    return [this.rosterFor(peerId, unique), this.presence(peerId, unique, 'online', null)];
  }

  /** A chat line from a member, to every member (the sender too, as its receipt). Ignored from non-members. */
  say(peerId: string, text: string, at: number): Delivery[] {
    const m = this.members.get(peerId);
    if (!m) return [];
    return [{ to: [...this.members.keys()], message: { type: 'said', from: m.name, text, at } }];
  }

  /**
   * Applies one liveness change: `suspect` makes a member slipping, `alive` brings
   * it back online, `dead` or `closed` takes it out of the room with the cause.
   * Changes of peers that never joined are ignored.
   */
  liveness(change: LivenessChange): Delivery[] {
    const m = this.members.get(change.peerId);
    if (!m) return [];
    switch (change.to) {
      case 'connecting':
        return [];
      case 'alive':
        // Also the first state of a session that replaced a slipping one of the same peer.
        if (m.state === 'online') return [];
        m.state = 'online';
        return [this.presence(change.peerId, m.name, 'online', null)];
      case 'suspect':
        if (m.state === 'slipping') return [];
        m.state = 'slipping';
        return [this.presence(change.peerId, m.name, 'slipping', change.cause)];
      case 'dead':
      case 'closed':
        // The same peer opened a newer session (it reconnected before this one was
        // declared dead); the membership carries on with that session.
        if (change.cause === 'replaced') return [];
        this.members.delete(change.peerId);
        return [this.presence(change.peerId, m.name, 'offline', change.cause)];
    }
  }

  private rosterFor(peerId: string, you: string): Delivery {
    return { to: [peerId], message: { type: 'roster', members: this.roster(), you } };
  }

  /** A presence change of `peerId`, for everyone else present. */
  private presence(peerId: string, name: string, state: PresenceState, cause: Cause | null): Delivery {
    const to = [...this.members.keys()].filter((id) => id !== peerId);
    return { to, message: cause === null ? { type: 'presence', name, state } : { type: 'presence', name, state, cause } };
  }

  private uniqueName(wanted: string): string {
    const taken = new Set([...this.members.values()].map((m) => m.name.toLowerCase()));
    if (!taken.has(wanted.toLowerCase())) return wanted;
    for (let n = 2; ; n++) {
      const suffix = `-${n}`;
      const candidate = wanted.slice(0, NAME_MAX_LENGTH - suffix.length) + suffix;
      if (!taken.has(candidate.toLowerCase())) return candidate;
    }
  }
}
