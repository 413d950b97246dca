/**
 * The game's messages, carried as Vigil application messages (msgpack bodies). Clients
 * send `input`; the server sends `joined` once per (re)join and `state` every tick.
 * `parseClientMessage` is the one gate a body passes before the match sees it.
 */

/** Messages a player sends. */
export type ClientMessage = {
  readonly t: 'input';
  /** Increasing per player; older or repeated inputs are ignored. */
  readonly seq: number;
  /** Direction, each component -1, 0 or 1. */
  readonly dx: number;
  readonly dy: number;
  /** When the player pressed it, on the server's clock (ms): the client's clock plus Vigil's clock offset. */
  readonly at: number;
};

/** One player as a `state` message shows it. */
export interface PlayerView {
  readonly seat: number;
  readonly x: number;
  readonly y: number;
  /** The server's smoothed RTT to this player, ms (rounded); -1 until known. */
  readonly rtt: number;
}

/** Messages the server sends. */
export type ServerMessage =
  | {
      readonly t: 'joined';
      readonly seat: number;
      /** True when this player took back the seat it held before its heartbeat died. */
      readonly rejoined: boolean;
      readonly tickHz: number;
      readonly world: { readonly width: number; readonly height: number };
    }
  | {
      readonly t: 'state';
      readonly tick: number;
      /** Server clock at the tick, ms. */
      readonly time: number;
      /** The receiver first, then up to `MATCH_DEFAULTS.viewNeighbours` nearest players. */
      readonly players: readonly PlayerView[];
      /** Players in the match. */
      readonly count: number;
      /** The receiver's last input applied (its `seq`). */
      readonly ack: number;
    };

const direction = (v: unknown): v is number => v === -1 || v === 0 || v === 1;

/** The message in `body`, or null if it is not a valid client message. */
export function parseClientMessage(body: unknown): ClientMessage | null {
  if (typeof body !== 'object' || body === null) return null;
  const m = body as Record<string, unknown>;
  if (m['t'] !== 'input') return null;
  const { seq, dx, dy, at } = m;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return null;
  if (!direction(dx) || !direction(dy)) return null;
  if (typeof at !== 'number' || !Number.isFinite(at)) return null;
  return { t: 'input', seq, dx, dy, at };
}
