/** `ViewGrid`: nearest neighbours from the 3×3 cells around a player. */
import type { Player } from '../src/match.js';
import { ViewGrid, viewOf } from '../src/view.js';

const player = (seat: number, x: number, y: number): Player => ({ id: `p${seat}`, seat, x, y, dx: 0, dy: 0, lastSeq: -1, inputDelayMs: 0 });

describe('ViewGrid', () => {
  it('returns the n nearest players in neighbouring cells, nearest first, not the player itself', () => {
    const me = player(0, 150, 150);
    const others = [player(1, 160, 150), player(2, 250, 250), player(3, 120, 150), player(4, 290, 150), player(5, 500, 500)];
    const grid = new ViewGrid(100);
    grid.build([me, ...others]);
    expect(grid.neighbours(me, 2).map((p) => p.seat)).toEqual([1, 3]);
    expect(grid.neighbours(me, 10).map((p) => p.seat).sort()).toEqual([1, 2, 3, 4]);
  });

  it('rebuilding forgets where players were', () => {
    const a = player(0, 10, 10);
    const b = player(1, 20, 20);
    const grid = new ViewGrid(100);
    grid.build([a, b]);
    b.x = 900;
    grid.build([a, b]);
    expect(grid.neighbours(a, 8)).toEqual([]);
  });

  it('viewOf rounds positions and RTT, -1 for an unknown RTT', () => {
    expect(viewOf(player(3, 1.4, 2.6), 12.49)).toEqual({ seat: 3, x: 1, y: 3, rtt: 12 });
    expect(viewOf(player(3, 0, 0), Number.NaN).rtt).toBe(-1);
  });
});
