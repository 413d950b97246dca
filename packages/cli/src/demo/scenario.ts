/**
 * The demo's cast and script: six simulated clients over both transports, and a
 * repeating schedule of misbehaviour (a freeze, a crash, a slow spell) timed against
 * the demo's heartbeat so each one shows a different path through the state machine.
 * Pure data and arithmetic; the supervisor carries the actions out.
 */

/** The demo server's heartbeat, ms: ping every second, dead after three of silence. */
export const DEMO_TIMING = { intervalMs: 1000, timeoutMs: 3000 } as const;

/**
 * A slow client blocks its own event loop this long at a time, ms: past the suspect
 * threshold (1.5 × interval = 1500) so it turns suspect and its RTT climbs, but short
 * of the 3000 ms timeout (and of the client's own watchdog at interval + timeout) so
 * it never dies.
 */
export const SLOW_BLOCK_MS = 2000;
/** Breathing room between two blocks, ms, in which the queued pings are answered. */
export const SLOW_GAP_MS = 250;

export type DemoBehaviour = 'healthy' | 'freezes' | 'crashes' | 'slow';

export interface DemoPeer {
  readonly id: string;
  readonly transport: 'tcp' | 'ws';
  readonly behaviour: DemoBehaviour;
}

export const DEMO_PEERS: readonly DemoPeer[] = [
  { id: 'healthy-tcp', transport: 'tcp', behaviour: 'healthy' },
  { id: 'healthy-ws', transport: 'ws', behaviour: 'healthy' },
  { id: 'healthy-ws-2', transport: 'ws', behaviour: 'healthy' },
  { id: 'freezer-tcp', transport: 'tcp', behaviour: 'freezes' },
  { id: 'crasher-ws', transport: 'ws', behaviour: 'crashes' },
  { id: 'laggard-tcp', transport: 'tcp', behaviour: 'slow' },
];

/**
 * What the supervisor does to a child: `freeze` (SIGSTOP) and `thaw` (SIGCONT),
 * `crash` (SIGKILL) and `respawn`, `slow` and `recover` (IPC messages to the child).
 */
export type DemoActionKind = 'freeze' | 'thaw' | 'crash' | 'respawn' | 'slow' | 'recover';

export interface DemoAction {
  /** Ms after the demo started. */
  readonly atMs: number;
  readonly kind: DemoActionKind;
  readonly peer: string;
}

/** What the supervisor tells a child over IPC. */
export type DemoChildMessage = { readonly type: 'slow' } | { readonly type: 'recover' };

/** Length of one round of the schedule, ms; the schedule repeats for as long as the demo runs. */
export const DEMO_CYCLE_MS = 40_000;

/** One round: everyone healthy for 8 s, then the trouble, then quiet again before the next round. */
export const DEMO_SCHEDULE: readonly DemoAction[] = [
  { atMs: 8_000, kind: 'freeze', peer: 'freezer-tcp' },
  { atMs: 12_000, kind: 'crash', peer: 'crasher-ws' },
  { atMs: 17_000, kind: 'respawn', peer: 'crasher-ws' },
  { atMs: 20_000, kind: 'thaw', peer: 'freezer-tcp' },
  { atMs: 24_000, kind: 'slow', peer: 'laggard-tcp' },
  { atMs: 32_000, kind: 'recover', peer: 'laggard-tcp' },
];

/**
 * The actions due in the window (`fromMs`, `toMs`] of demo time, in order, with
 * `atMs` shifted into the round they fall in.
 */
export function dueActions(fromMs: number, toMs: number, schedule: readonly DemoAction[] = DEMO_SCHEDULE, cycleMs = DEMO_CYCLE_MS): DemoAction[] {
  const out: DemoAction[] = [];
  if (!(toMs > fromMs)) return out;
  for (let round = Math.max(0, Math.floor(fromMs / cycleMs)); round * cycleMs <= toMs; round++) {
    for (const action of schedule) {
      const atMs = round * cycleMs + action.atMs;
      if (atMs > fromMs && atMs <= toMs) out.push({ ...action, atMs });
    }
  }
  return out;
}

/** The first action strictly after `nowMs`. */
export function nextAction(nowMs: number, schedule: readonly DemoAction[] = DEMO_SCHEDULE, cycleMs = DEMO_CYCLE_MS): DemoAction | null {
  if (schedule.length === 0) return null;
  return dueActions(nowMs, nowMs + cycleMs, schedule, cycleMs)[0] ?? null;
}
