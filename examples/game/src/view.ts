/**
 * What each player is sent per tick: itself and its nearest neighbours, found through a
 * uniform grid rebuilt once a tick, so a tick costs O(players), not O(players²).
 */
import type { PlayerView } from './game-protocol.js';
import type { Player } from './match.js';

export class ViewGrid {
  private readonly cells = new Map<number, Player[]>();

  constructor(
    /** World units per cell: about the view radius. */
    private readonly cellSize = 100,
  ) {}

  /** Rebuilds the grid from `players`. */
  build(players: Iterable<Player>): void {
    for (const list of this.cells.values()) list.length = 0;
    for (const p of players) {
      const key = this.key(Math.floor(p.x / this.cellSize), Math.floor(p.y / this.cellSize));
      let list = this.cells.get(key);
      if (!list) this.cells.set(key, (list = []));
      list.push(p);
    }
  }

  /** Up to `n` players nearest to `p` within its 3×3 cells, nearest first, `p` excluded. */
  neighbours(p: Player, n: number): Player[] {
    const cx = Math.floor(p.x / this.cellSize);
    const cy = Math.floor(p.y / this.cellSize);
    // A top-n list kept sorted by insertion: O(candidates × n), no sort, no closures.
    const found: Player[] = [];
    const dist: number[] = [];
    for (let y = cy - 1; y <= cy + 1; y++) {
      for (let x = cx - 1; x <= cx + 1; x++) {
        const list = this.cells.get(this.key(x, y));
        if (!list) continue;
        for (const q of list) {
          if (q === p) continue;
          const d = (q.x - p.x) ** 2 + (q.y - p.y) ** 2;
          if (found.length === n && d >= dist[n - 1]!) continue;
          let i = found.length === n ? n - 1 : found.length;
          while (i > 0 && dist[i - 1]! > d) {
            found[i] = found[i - 1]!;
            dist[i] = dist[i - 1]!;
            i--;
          }
          found[i] = q;
          dist[i] = d;
        }
      }
    }
    return found;
  }

  private key(x: number, y: number): number {
    // Cells stay below 2^16 per axis for any sane world size.
    return (x + 1) * 65536 + (y + 1);
  }
}

/** A player as a `state` message carries it, with its RTT (ms, -1 unknown). */
export function viewOf(p: Player, rttMs: number): PlayerView {
  return { seat: p.seat, x: Math.round(p.x), y: Math.round(p.y), rtt: Number.isNaN(rttMs) ? -1 : Math.round(rttMs) };
}
