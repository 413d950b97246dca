/**
 * The chat wire: the application messages carried as Vigil `data` bodies, as
 * discriminated unions per direction, their limits, and the parsers that turn an
 * untrusted decoded body into a typed message (or null). Names and texts are
 * cleaned of control characters here, so no peer can drive another's terminal.
 */
/** Longest member name, in UTF-16 code units (after cleaning). */
export const NAME_MAX_LENGTH = 24;
/** Longest chat line, in UTF-16 code units (after cleaning). */
export const TEXT_MAX_LENGTH = 1000;

/** A member's presence: `online` (alive), `slipping` (suspect), `offline` (dead, closed, or left). */
export const PRESENCE_STATES = ['online', 'slipping', 'offline'] as const;
export type PresenceState = (typeof PRESENCE_STATES)[number];
/** States a member listed in the roster can be in; offline members are not listed. */
export type RosterState = Exclude<PresenceState, 'offline'>;

/** Client → server: enter the room under `name` (sent again after every reconnect). */
export interface JoinMessage {
  readonly type: 'join';
  readonly name: string;
}

/** Client → server: one line of chat. */
export interface SayMessage {
  readonly type: 'say';
  readonly text: string;
}

export type ClientMessage = JoinMessage | SayMessage;

export interface RosterEntry {
  readonly name: string;
  readonly state: RosterState;
}

/** Server → the joining client: everyone present (itself included) and the name it got. */
export interface RosterMessage {
  readonly type: 'roster';
  readonly members: readonly RosterEntry[];
  /** The joiner's name in the room; differs from the requested one if that was taken. */
  readonly you: string;
}

/** Server → every member: a chat line. */
export interface SaidMessage {
  readonly type: 'said';
  readonly from: string;
  readonly text: string;
  /** Server wall-clock time the line was accepted, ms since the epoch. */
  readonly at: number;
}

/** Server → every other member: someone's presence changed. */
export interface PresenceMessage {
  readonly type: 'presence';
  readonly name: string;
  readonly state: PresenceState;
  /**
   * The Vigil liveness cause behind `slipping` and `offline` (`heartbeat-timeout`,
   * `peer-close`, `closed-by-peer`, ...). A string on the wire: clients show it.
   */
  readonly cause?: string;
}

export type ServerMessage = RosterMessage | SaidMessage | PresenceMessage;

// C0 and C1 controls and DEL (terminal escapes start here), plus bidi overrides and
// isolates that could make one member's line render as another's.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** Removes control characters, collapses whitespace runs, trims, and caps the length. */
export function cleanText(raw: string, maxLength: number): string {
  return raw.replace(UNSAFE, ' ').replace(/\s+/g, ' ').trim().slice(0, maxLength);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmpty(value: unknown, maxLength: number): string | null {
  if (typeof value !== 'string') return null;
  const clean = cleanText(value, maxLength);
  return clean === '' ? null : clean;
}

/** Parses a body received from a client; null if it is not a well-formed chat message. */
export function parseClientMessage(body: unknown): ClientMessage | null {
  if (!isRecord(body)) return null;
  switch (body['type']) {
    case 'join': {
      const name = nonEmpty(body['name'], NAME_MAX_LENGTH);
      return name === null ? null : { type: 'join', name };
    }
    case 'say': {
      const text = nonEmpty(body['text'], TEXT_MAX_LENGTH);
      return text === null ? null : { type: 'say', text };
    }
    default:
      return null;
  }
}

function isPresenceState(value: unknown): value is PresenceState {
  return (PRESENCE_STATES as readonly unknown[]).includes(value);
}

/** Parses a body received from the server; null if it is not a well-formed chat message. */
export function parseServerMessage(body: unknown): ServerMessage | null {
  if (!isRecord(body)) return null;
  switch (body['type']) {
    case 'roster': {
      const you = nonEmpty(body['you'], NAME_MAX_LENGTH);
      const raw = body['members'];
      if (you === null || !Array.isArray(raw)) return null;
      const members: RosterEntry[] = [];
      for (const entry of raw as unknown[]) {
        if (!isRecord(entry)) return null;
        const name = nonEmpty(entry['name'], NAME_MAX_LENGTH);
        const state = entry['state'];
        if (name === null || (state !== 'online' && state !== 'slipping')) return null;
        members.push({ name, state });
      }
      return { type: 'roster', members, you };
    }
    case 'said': {
      const from = nonEmpty(body['from'], NAME_MAX_LENGTH);
      const text = nonEmpty(body['text'], TEXT_MAX_LENGTH);
      const at = body['at'];
      if (from === null || text === null || typeof at !== 'number' || !Number.isFinite(at)) return null;
      return { type: 'said', from, text, at };
    }
    case 'presence': {
      const name = nonEmpty(body['name'], NAME_MAX_LENGTH);
      const state = body['state'];
      const cause = body['cause'];
      if (name === null || !isPresenceState(state)) return null;
      // The cause is shown, not acted on, so any short clean string is accepted.
      const clean = typeof cause === 'string' ? cleanText(cause, 32) : '';
      return clean === '' ? { type: 'presence', name, state } : { type: 'presence', name, state, cause: clean };
    }
    default:
      return null;
  }
}
