import type { PeerTiming } from '../src/config.js';
import { fixedTimeoutDetector, type DetectorFactory } from '../src/failure-detector.js';
import { LivenessEngine } from '../src/liveness-engine.js';
import { PeerMonitor } from '../src/peer-monitor.js';
import type { Cause, StateChange } from '../src/peer-state.js';
import { phiAccrualDetector } from '../src/phi-accrual-detector.js';
import { STALL_DEFAULTS, StallGuard, type Stall, type StallGuardOptions } from '../src/stall-guard.js';
import { VirtualClock } from './virtual-time.js';

describe('StallGuard', () => {
  it('counts lateness from minStallMs up as a stall ending now, and ignores less', () => {
    const g = new StallGuard({ minStallMs: 100 });
    expect(g.observeLateness(1000, 99)).toBe(false);
    expect([g.count, g.totalMs, g.lastEnd]).toStrictEqual([0, 0, Number.NEGATIVE_INFINITY]);
    expect(g.observeLateness(2000, 100)).toBe(true);
    expect([g.count, g.totalMs, g.longestMs, g.lastEnd]).toStrictEqual([1, 100, 100, 2000]);
    expect(g.last).toStrictEqual({ from: 1900, to: 2000, source: 'timer' });
  });

  it('merges overlapping observations of one stall (the wheel and a probe both saw it)', () => {
    const g = new StallGuard({ minStallMs: 10 });
    g.observe(1050, 5000, 'timer');
    g.observe(1010, 5003, 'event-loop');
    expect([g.count, g.totalMs, g.longestMs]).toStrictEqual([1, 3993, 3993]);
    expect(g.last).toStrictEqual({ from: 1010, to: 5003, source: 'event-loop' });
    // An observation that swallows two earlier spans counts no new stall.
    g.observe(6000, 6100, 'timer');
    g.observe(900, 7000, 'event-loop');
    expect([g.count, g.totalMs]).toStrictEqual([2, 6100]);
    expect(g.creditSince(0)).toBe(6100);
  });

  it('answers how much of the silence since t our stalls explain', () => {
    const g = new StallGuard({ minStallMs: 10 });
    g.observe(1000, 1500, 'timer');
    g.observe(3000, 3200, 'timer');
    g.observe(4000, 7000, 'timer');
    expect(g.creditSince(0)).toBe(3700);
    expect(g.creditSince(1200)).toBe(300 + 200 + 3000);
    expect(g.creditSince(1500)).toBe(3200);
    expect(g.creditSince(3100)).toBe(100 + 3000);
    expect(g.creditSince(6999)).toBe(1);
    expect(g.creditSince(7000)).toBe(0);
    // Bounded by `now` as well.
    expect(g.creditSince(0, 5000)).toBe(500 + 200 + 1000);
    expect(g.creditSince(1200, 1400)).toBe(200);
  });

  it('cuts every stall out of effective time, read as time goes on', () => {
    const g = new StallGuard({ minStallMs: 10 });
    const at800 = g.effective(800);
    expect(at800).toBe(800);
    g.observe(1000, 1500, 'timer');
    expect(g.effective(1500)).toBe(1000);
    expect(g.effective(2000)).toBe(1500);
    g.observe(3000, 3200, 'timer');
    // Effective silence since 800 is the raw silence less the credit.
    expect(g.effective(4000) - at800).toBe(4000 - 800 - g.creditSince(800));
    expect(g.effective(4000) - at800).toBe(2500);
  });

  it('remembers a bounded history: the oldest spans stop earning credit', () => {
    const g = new StallGuard({ minStallMs: 10, historySize: 2 });
    g.observe(100, 200, 'timer');
    g.observe(300, 400, 'timer');
    g.observe(500, 600, 'timer');
    expect([g.count, g.totalMs]).toStrictEqual([3, 300]);
    expect(g.creditSince(0)).toBe(200);
  });

  it('counts clock jumps and reports them without credit', () => {
    const g = new StallGuard();
    const seen: Stall[] = [];
    g.onStall((s) => seen.push(s));
    g.observeClockJump(10_000, 3_600_000);
    expect([g.clockJumps, g.count, g.totalMs, g.creditSince(0)]).toStrictEqual([1, 0, 0, 0]);
    expect(seen).toStrictEqual([{ from: 10_000 - 3_600_000, to: 10_000, source: 'clock-jump' }]);
  });

  it('has named defaults and refuses nonsense', () => {
    expect(STALL_DEFAULTS).toStrictEqual({ minStallMs: 20, historySize: 64, graceRtos: 4, graceMinTicks: 4, maxCreditTimeouts: 1 });
    expect(new StallGuard().minStallMs).toBe(20);
    expect(() => new StallGuard({ minStallMs: 0 })).toThrow(RangeError);
    expect(() => new StallGuard({ historySize: 0 })).toThrow(RangeError);
    expect(() => new StallGuard({ maxCreditMs: -1 })).toThrow(RangeError);
    expect(() => new StallGuard({ maxCreditMs: Number.NaN })).toThrow(RangeError);
  });

  it('caps one peer’s credit at its timeout, or at maxCreditMs when given', () => {
    expect(new StallGuard().maxCreditMs).toBeUndefined();
    expect(new StallGuard().creditCap(3000)).toBe(3000);
    expect(new StallGuard({ maxCreditMs: 500 }).creditCap(3000)).toBe(500);
    expect(new StallGuard({ maxCreditMs: 0 }).creditCap(3000)).toBe(0);
    expect(new StallGuard({ maxCreditMs: Number.POSITIVE_INFINITY }).creditCap(3000)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('LivenessEngine stall guard', () => {
  it('is fed by the wheel’s lateness before the late tick’s timers fire, with a threshold of two ticks', () => {
    const clock = new VirtualClock();
    const engine = new LivenessEngine({ scheduler: clock.scheduler, tickMs: 50 });
    const stalls = engine.stalls!;
    expect(stalls.minStallMs).toBe(100);
    const creditAtFire: number[] = [];
    engine.wheel.timer(() => creditAtFire.push(stalls.creditSince(0))).schedule(400);
    engine.wheel.timer(() => undefined).schedule(10_000);
    clock.advanceTo(200);
    // Stopped at 200 for 1000 ms: the driver was due at 250 and runs at 1200.
    clock.stall(1000);
    clock.advance(0);
    expect(stalls.last).toStrictEqual({ from: 250, to: 1200, source: 'timer' });
    expect(creditAtFire).toStrictEqual([950]);
    // A 90 ms delay is noise at this tick.
    clock.stall(90);
    clock.advance(0);
    expect(stalls.count).toBe(1);
  });

  it('can be turned off', () => {
    const engine = new LivenessEngine({ stallGuard: false });
    expect(engine.stalls).toBeNull();
  });

  it('takes guard options', () => {
    const engine = new LivenessEngine({ tickMs: 50, stallGuard: { minStallMs: 500 } });
    expect(engine.stalls!.minStallMs).toBe(500);
  });
});

const TICK = 50;
const timing: PeerTiming = { intervalMs: 1000, suspectAfterMs: 1500, timeoutMs: 3000, jitter: 0.1 };
const HANDSHAKE_MS = 5000;
/** Round trip of a live peer's answer, ms. */
const RTT = 10;

interface SimPeer {
  readonly monitor: PeerMonitor;
  /** Answers our pings (RTT later) until this time; then silent for good. */
  readonly answersUntil: number;
  /** Answers due, clock ms, oldest first. */
  readonly due: number[];
  expired: [Cause, number] | null;
}

/**
 * An engine and peers in virtual time, driven like a Node process: while it is busy
 * nothing runs; when it gets the loop back the late timers fire first, then the answers
 * waiting in its sockets are read, then it runs normally until it is busy again.
 */
function simulation(stallGuard: StallGuardOptions = {}) {
  const clock = new VirtualClock();
  const engine = new LivenessEngine({ scheduler: clock.scheduler, tickMs: TICK, random: () => 0.5, stallGuard });
  const changes: StateChange[] = [];
  engine.changes$.subscribe((c) => changes.push(c));
  const peers = new Map<string, SimPeer>();

  function add(id: string, answersUntil: number, detector: DetectorFactory = fixedTimeoutDetector): SimPeer {
    const due: number[] = [];
    const peer: SimPeer = {
      monitor: new PeerMonitor(
        engine,
        id,
        {
          ping: (now) => void (now < answersUntil && due.push(now + RTT)),
          expire: (cause) => {
            peer.expired = [cause, clock.now()];
            peer.monitor.end('dead', cause);
          },
        },
        HANDSHAKE_MS,
      ),
      answersUntil,
      due,
      expired: null,
    };
    peers.set(id, peer);
    return peer;
  }

  /** Reads every answer that has arrived by now (one socket read per peer). */
  function read(): void {
    for (const p of peers.values()) {
      while (p.due.length > 0 && p.due[0]! <= clock.now()) {
        p.due.shift();
        if (p.monitor.state !== 'dead' && p.monitor.state !== 'closed') p.monitor.touch(true);
      }
    }
  }

  /** Runs freely for `ms`, reading answers as they arrive (every ms: the loop is idle). */
  function run(ms: number): void {
    const end = clock.now() + ms;
    while (clock.now() < end) {
      clock.advance(1);
      read();
    }
  }

  /** Busy for `busyMs` (nothing runs), then the late timers, then the socket reads, then free for `freeMs`. */
  function busy(busyMs: number, freeMs: number): void {
    clock.stall(busyMs);
    clock.advance(0);
    read();
    run(freeMs);
  }

  return { clock, engine, changes, peers, add, run, busy };
}

/** Ends of peers (dead or closed) as [id, cause, silence at the change]. */
function ends(changes: readonly StateChange[]): [string, string | null, number][] {
  return changes.filter((c) => c.to === 'dead' || c.to === 'closed').map((c) => [c.peerId, c.cause, c.silenceMs]);
}

describe('a saturated event loop (every tick late, for minutes)', () => {
  // 200 ms busy in every 250, for good: the wheel's tick in each busy slice runs 150 ms late
  // (above the 100 ms threshold of two ticks), so every 250 ms brings a credited stall.
  const BUSY = 200;
  const FREE = 50;
  const MINUTES = 5;

  function saturated(stallGuard: StallGuardOptions = {}) {
    const sim = simulation(stallGuard);
    const fixed = sim.add('live-fixed', Number.POSITIVE_INFINITY);
    const phi = sim.add('live-phi', Number.POSITIVE_INFINITY, phiAccrualDetector());
    // Answers until 20 s, then silent: a peer that died while we were saturated.
    const dead = sim.add('dead', 20_000);
    const deadPhi = sim.add('dead-phi', 20_000, phiAccrualDetector());
    for (const p of [fixed, phi, dead, deadPhi]) p.monitor.start(timing, true);
    // A few calm heartbeats first, then saturation until the end.
    sim.run(5000);
    while (sim.clock.now() < MINUTES * 60_000) sim.busy(BUSY, FREE);
    return sim;
  }

  it('still declares a silent peer dead within timeout + the credit cap + one grace; live peers stay alive', () => {
    const sim = saturated();
    const stalls = sim.engine.stalls!;
    // Saturated indeed: one credited stall of 150 ms per 250 ms, from 5 s to 5 min.
    expect([stalls.count, stalls.totalMs, stalls.longestMs]).toStrictEqual([1180, 1180 * 150, 150]);
    const cap = stalls.creditCap(timing.timeoutMs);
    const grace = timing.intervalMs;
    const bound = timing.timeoutMs + cap + grace + BUSY + TICK;
    const died = ends(sim.changes).sort();
    expect(died.map(([id, cause]) => [id, cause])).toStrictEqual([
      ['dead', 'heartbeat-timeout'],
      ['dead-phi', 'heartbeat-timeout'],
    ]);
    for (const [, , silence] of died) {
      expect(silence).toBeGreaterThanOrEqual(timing.timeoutMs + cap);
      expect(silence).toBeLessThanOrEqual(bound);
    }
    // The exact run, in virtual time.
    expect(died.map(([, , silence]) => silence)).toStrictEqual([7000, 7000]);
    for (const id of ['live-fixed', 'live-phi']) {
      expect(sim.changes.filter((c) => c.peerId === id).map((c) => c.to)).toStrictEqual(['alive']);
    }
  });

  it('without the cap (maxCreditMs: Infinity), never declares the silent peer dead: the bug this cap fixes', () => {
    const sim = saturated({ maxCreditMs: Number.POSITIVE_INFINITY });
    expect(ends(sim.changes)).toStrictEqual([]);
    expect(sim.peers.get('dead')!.monitor.silence()).toBeGreaterThan(4 * 60_000);
  });
});

describe('the credit cap and one long stall', () => {
  it('keeps an answering peer alive across a stall longer than timeout + cap (one last re-probe), and kills a silent one right after it', () => {
    const sim = simulation();
    const live = sim.add('live', Number.POSITIVE_INFINITY);
    const silent = sim.add('silent', 1500);
    for (const p of [live, silent]) p.monitor.start(timing, true);
    sim.run(2500);
    // Stopped 10 s (SIGSTOP, a paused VM) from 2500: more than timeout + cap (6000) for both. Both
    // are re-probed once (our ping due at 3000 goes out as we resume at 12 500) and held one grace
    // (one interval here); the live peer's answer is read within it.
    sim.busy(10_000, 10_000);
    // The silent one, last heard at 1010, dies at the grace's end.
    expect(ends(sim.changes)).toStrictEqual([['silent', 'heartbeat-timeout', 12_500 + 1000 - 1010]]);
    expect(live.monitor.state).toBe('alive');
    expect(sim.engine.stats.reprobes).toBe(2);
  });

  it('credits a stall shorter than the cap against the handshake deadline in full', () => {
    const sim = simulation();
    const p = sim.add('p', 0);
    sim.clock.advanceTo(1000);
    // Driver due at 1050 (the first tick), run at 4000: 2950 credited, under the cap of 5000.
    sim.busy(3000, 0);
    sim.run(5000);
    expect(p.expired).toStrictEqual(['handshake-timeout', 5000 + 2950]);
  });

  it('reads a hello waiting through a stall past the handshake cap within one grace', () => {
    const sim = simulation();
    const p = sim.add('p', Number.POSITIVE_INFINITY);
    sim.clock.advanceTo(1000);
    sim.clock.stall(10_000);
    sim.clock.advance(0);
    // The deadline passed in effective time too (credit capped at 5000); held 4 ticks for the reads.
    expect(p.monitor.state).toBe('connecting');
    p.monitor.touch(false);
    p.monitor.start(timing, true);
    sim.run(10_000);
    expect([p.monitor.state, p.expired]).toStrictEqual(['alive', null]);
  });
});
