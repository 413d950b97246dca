/**
 * The demo's schedule: which actions fall in a window of demo time across rounds,
 * and that each misbehaviour is timed to show what it is meant to show.
 */
import { resolveHeartbeatConfig } from '@vigil/core';
import {
  DEMO_CYCLE_MS,
  DEMO_PEERS,
  DEMO_SCHEDULE,
  DEMO_TIMING,
  SLOW_BLOCK_MS,
  SLOW_GAP_MS,
  dueActions,
  nextAction,
  type DemoAction,
} from '../../src/demo/scenario.js';

function at(schedule: readonly DemoAction[], kind: DemoAction['kind']): number {
  const action = schedule.find((a) => a.kind === kind);
  if (action === undefined) throw new Error(`no ${kind} in the schedule`);
  return action.atMs;
}

describe('dueActions', () => {
  it('returns a whole round in order', () => {
    expect(dueActions(0, DEMO_CYCLE_MS)).toEqual(DEMO_SCHEDULE);
  });

  it('takes the window as (from, to]', () => {
    expect(dueActions(8000, 12_000).map((a) => a.kind)).toEqual(['crash']);
    expect(dueActions(7999, 8000).map((a) => a.kind)).toEqual(['freeze']);
    expect(dueActions(8000, 8000)).toEqual([]);
  });

  it('repeats the schedule every round, shifted', () => {
    expect(dueActions(DEMO_CYCLE_MS - 1000, DEMO_CYCLE_MS + 12_000)).toEqual([
      { atMs: DEMO_CYCLE_MS + 8000, kind: 'freeze', peer: 'freezer-tcp' },
      { atMs: DEMO_CYCLE_MS + 12_000, kind: 'crash', peer: 'crasher-ws' },
    ]);
    expect(dueActions(0, 3 * DEMO_CYCLE_MS)).toHaveLength(3 * DEMO_SCHEDULE.length);
  });

  it('finds the next action, in the next round after the last one', () => {
    expect(nextAction(0)).toEqual(DEMO_SCHEDULE[0]);
    expect(nextAction(32_000)).toEqual({ atMs: DEMO_CYCLE_MS + 8000, kind: 'freeze', peer: 'freezer-tcp' });
  });
});

describe('the demo script', () => {
  const config = resolveHeartbeatConfig(DEMO_TIMING);
  const schedule = dueActions(0, DEMO_CYCLE_MS);

  it('runs 1000 ms heartbeats with a 3000 ms timeout', () => {
    expect([config.intervalMs, config.suspectAfterMs, config.timeoutMs]).toEqual([1000, 1500, 3000]);
  });

  it('acts only on peers in the cast, with both transports and every behaviour present', () => {
    const ids = new Set(DEMO_PEERS.map((p) => p.id));
    expect(DEMO_PEERS).toHaveLength(6);
    expect(schedule.filter((a) => !ids.has(a.peer))).toEqual([]);
    expect(new Set(DEMO_PEERS.map((p) => p.transport))).toEqual(new Set(['tcp', 'ws']));
    expect(new Set(DEMO_PEERS.map((p) => p.behaviour))).toEqual(new Set(['healthy', 'freezes', 'crashes', 'slow']));
  });

  it('freezes a client long enough to be declared dead, then thaws it within the round', () => {
    expect(at(schedule, 'thaw') - at(schedule, 'freeze')).toBeGreaterThan(config.timeoutMs);
    expect(at(schedule, 'thaw')).toBeLessThan(DEMO_CYCLE_MS);
  });

  it('respawns the crashed client within the round', () => {
    expect(at(schedule, 'respawn')).toBeGreaterThan(at(schedule, 'crash'));
    expect(at(schedule, 'respawn')).toBeLessThan(DEMO_CYCLE_MS);
  });

  it('blocks the slow client past the suspect threshold but short of either side declaring death', () => {
    expect(SLOW_BLOCK_MS).toBeGreaterThan(config.suspectAfterMs);
    expect(SLOW_BLOCK_MS).toBeLessThan(config.timeoutMs);
    expect(SLOW_GAP_MS).toBeLessThan(config.intervalMs);
    expect(at(schedule, 'recover')).toBeGreaterThan(at(schedule, 'slow'));
  });
});
