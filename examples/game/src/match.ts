/**
 * `Match`: the authoritative game state, pure logic on an injected clock (no timers, no
 * sockets). Seats are stable: a player whose heartbeat dies leaves the match at once but
 * keeps its seat for `graceMs`, and the same player id joining within that window sits in
 * it again. Inputs carry the server-clock time they were made; applying one late moves
 * the player as if it had arrived on time (up to `maxRewindMs`).
 */

/** Named defaults. */
export const MATCH_DEFAULTS = {
  /** Ticks per second. */
  tickHz: 20,
  /** Seats in the match. */
  seats: 2000,
  /** Ms a removed player's seat stays reserved for it. */
  graceMs: 10_000,
  /** Most ms an input is back-dated by. */
  maxRewindMs: 250,
  /** World units per second. */
  speed: 120,
  world: { width: 1600, height: 1000 },
  /** Nearest other players each `state` message carries. */
  viewNeighbours: 8,
} as const;

export interface MatchOptions {
  readonly seats?: number;
  readonly graceMs?: number;
  readonly maxRewindMs?: number;
  readonly speed?: number;
  readonly world?: { readonly width: number; readonly height: number };
  /** Random numbers in [0, 1) for spawn points. Default `Math.random`. */
  readonly random?: () => number;
}

export interface Player {
  readonly id: string;
  readonly seat: number;
  x: number;
  y: number;
  dx: number;
  dy: number;
  /** Last input seq applied. */
  lastSeq: number;
  /** Ms the last input arrived after it was made (server clock): its one-way delay, as timestamped. */
  inputDelayMs: number;
}

export type JoinResult = { readonly seat: number; readonly rejoined: boolean } | null;

interface Reservation {
  readonly seat: number;
  readonly until: number;
  readonly x: number;
  readonly y: number;
}

export class Match {
  readonly seats: number;
  readonly graceMs: number;
  readonly world: { readonly width: number; readonly height: number };
  private readonly maxRewindMs: number;
  private readonly speed: number;
  private readonly random: () => number;
  private readonly players = new Map<string, Player>();
  private readonly bySeat = new Map<number, Player>();
  private readonly reserved = new Map<string, Reservation>();
  private readonly reservedSeats = new Set<number>();
  /** Lowest seat that might be free. */
  private nextFree = 0;
  tick = 0;

  constructor(options: MatchOptions = {}) {
    this.seats = options.seats ?? MATCH_DEFAULTS.seats;
    this.graceMs = options.graceMs ?? MATCH_DEFAULTS.graceMs;
    this.maxRewindMs = options.maxRewindMs ?? MATCH_DEFAULTS.maxRewindMs;
    this.speed = options.speed ?? MATCH_DEFAULTS.speed;
    this.world = options.world ?? MATCH_DEFAULTS.world;
    this.random = options.random ?? Math.random;
  }

  get size(): number {
    return this.players.size;
  }

  player(id: string): Player | undefined {
    return this.players.get(id);
  }

  all(): IterableIterator<Player> {
    return this.players.values();
  }

  /** The seat reserved for `id` (removed, within grace), if any. */
  reservation(id: string): number | undefined {
    return this.reserved.get(id)?.seat;
  }

  /** Seats `id` in the match at `now`: its reserved seat within grace, else the lowest free one; null when full. */
  join(id: string, now: number): JoinResult {
    const present = this.players.get(id);
    if (present) return { seat: present.seat, rejoined: false };
    this.expire(now);
    const held = this.reserved.get(id);
    let seat: number;
    let x: number;
    let y: number;
    if (held !== undefined) {
      this.reserved.delete(id);
      this.reservedSeats.delete(held.seat);
      ({ seat, x, y } = held);
    } else {
      const free = this.freeSeat();
      if (free === null) return null;
      seat = free;
      x = Math.round(this.random() * this.world.width);
      y = Math.round(this.random() * this.world.height);
    }
    const player: Player = { id, seat, x, y, dx: 0, dy: 0, lastSeq: -1, inputDelayMs: 0 };
    this.players.set(id, player);
    this.bySeat.set(seat, player);
    return { seat, rejoined: held !== undefined };
  }

  /** Takes `id` out of the match at `now`, reserving its seat (and position) until `now + graceMs`. */
  remove(id: string, now: number): boolean {
    const player = this.players.get(id);
    if (!player) return false;
    this.players.delete(id);
    this.bySeat.delete(player.seat);
    this.reserved.set(id, { seat: player.seat, until: now + this.graceMs, x: player.x, y: player.y });
    this.reservedSeats.add(player.seat);
    return true;
  }

  /**
   * Applies an input made at `at` (server clock) and received at `now`: the new direction
   * counts from `at`, so the position is corrected for the time it was in flight (at most
   * `maxRewindMs`; an `at` in the future counts as `now`). Stale seqs are ignored.
   */
  input(id: string, seq: number, dx: number, dy: number, at: number, now: number): boolean {
    const p = this.players.get(id);
    if (!p || seq <= p.lastSeq) return false;
    const late = Math.min(Math.max(0, now - at), this.maxRewindMs);
    p.inputDelayMs = now - at;
    const k = (this.speed * late) / 1000;
    p.x = this.clampX(p.x + (dx - p.dx) * k);
    p.y = this.clampY(p.y + (dy - p.dy) * k);
    p.dx = dx;
    p.dy = dy;
    p.lastSeq = seq;
    return true;
  }

  /** Advances every player by `dtMs` and expires old reservations. */
  step(dtMs: number, now: number): void {
    this.tick++;
    const d = (this.speed * dtMs) / 1000;
    for (const p of this.players.values()) {
      if (p.dx === 0 && p.dy === 0) continue;
      p.x = this.clampX(p.x + p.dx * d);
      p.y = this.clampY(p.y + p.dy * d);
    }
    this.expire(now);
  }

  private expire(now: number): void {
    for (const [id, r] of this.reserved) {
      if (r.until > now) continue;
      this.reserved.delete(id);
      this.reservedSeats.delete(r.seat);
      if (r.seat < this.nextFree) this.nextFree = r.seat;
    }
  }

  private freeSeat(): number | null {
    for (let s = this.nextFree; s < this.seats; s++) {
      if (!this.bySeat.has(s) && !this.reservedSeats.has(s)) {
        this.nextFree = s + 1;
        return s;
      }
    }
    // Seats below `nextFree` are taken or reserved: a reservation that expires lowers `nextFree`.
    return null;
  }

  private clampX(x: number): number {
    return Math.min(this.world.width, Math.max(0, x));
  }

  private clampY(y: number): number {
    return Math.min(this.world.height, Math.max(0, y));
  }
}
