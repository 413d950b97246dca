/**
 * What the terminal client shows: one line per server message or connection
 * change, and the client's own view of who is in the room (`RosterView`). Pure:
 * the caller passes the time to print.
 */
import type { StateChange } from '@vigil/core';
import type { RosterState, ServerMessage } from './chat-protocol.js';

/** Human wording for the causes a member can go offline with; others are shown as they are. */
const OFFLINE_WORDING: Readonly<Record<string, string>> = {
  'heartbeat-timeout': 'no heartbeat',
  'closed-by-peer': 'connection closed',
  reset: 'connection reset',
};

function clock(time: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}`;
}

/** The client's view of the room, kept from `roster` and `presence` messages. */
export class RosterView {
  private readonly members = new Map<string, RosterState>();
  /** Our own name in the room, once joined. */
  you: string | null = null;

  apply(message: ServerMessage): void {
    switch (message.type) {
      case 'roster':
        this.members.clear();
        for (const m of message.members) this.members.set(m.name, m.state);
        this.you = message.you;
        return;
      case 'presence':
        if (message.state === 'offline') this.members.delete(message.name);
        else this.members.set(message.name, message.state);
        return;
      case 'said':
        return;
    }
  }

  /** Forgets everyone: the roster is stale once our own connection is gone. */
  clear(): void {
    this.members.clear();
  }

  /** `alice, bob (slipping)`, in join order. */
  describe(): string {
    if (this.members.size === 0) return 'nobody';
    return [...this.members].map(([name, state]) => (state === 'slipping' ? `${name} (slipping)` : name)).join(', ');
  }
}

/** One line for a server message; `roster` is the view after applying the message. */
export function renderMessage(message: ServerMessage, time: Date, roster: RosterView): string {
  switch (message.type) {
    case 'roster':
      return `[${clock(time)}] * you are ${message.you}; in the room: ${roster.describe()}`;
    case 'said':
      return `[${clock(new Date(message.at))}] <${message.from}> ${message.text}`;
    case 'presence': {
      const who = `[${clock(time)}] * ${message.name}`;
      switch (message.state) {
        case 'online':
          return `${who} is online`;
        case 'slipping':
          return `${who} is slipping (no heartbeat for a while)`;
        case 'offline':
          if (message.cause === 'peer-close') return `${who} left`;
          return `${who} went offline (${OFFLINE_WORDING[message.cause ?? ''] ?? message.cause ?? 'unknown cause'})`;
      }
    }
  }
}

/** One line for a change of our own connection to the server, or null when there is nothing to say. */
export function renderConnectionChange(change: Pick<StateChange, 'from' | 'to' | 'cause'>, time: Date): string | null {
  const at = `[${clock(time)}]`;
  switch (change.to) {
    case 'connecting':
      return null;
    case 'alive':
      return change.from === 'suspect' ? `${at} * server is back` : null;
    case 'suspect':
      return `${at} * server is slipping (no heartbeat for a while)`;
    case 'dead':
      return `${at} * connection lost (${change.cause ?? 'unknown cause'}); reconnecting`;
    case 'closed':
      return change.cause === 'local-close' ? null : `${at} * connection closed (${change.cause ?? 'unknown cause'}); reconnecting`;
  }
}
