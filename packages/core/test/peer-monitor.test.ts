import fc from 'fast-check';
import type { PeerTiming } from '../src/config.js';
import type { DetectorFactory } from '../src/failure-detector.js';
import { LivenessEngine } from '../src/liveness-engine.js';
import { PhiAccrualDetector, phiAccrualDetector, phiInverse, type PhiAccrualOptions } from '../src/phi-accrual-detector.js';
import { PeerMonitor, jitteredInterval } from '../src/peer-monitor.js';
import type { Cause, PeerStatus, StateChange } from '../src/peer-state.js';
import { VirtualClock } from './virtual-time.js';

const TICK = 50;
const HANDSHAKE_MS = 5000;
const timing: PeerTiming = { intervalMs: 1000, suspectAfterMs: 1500, timeoutMs: 3000, jitter: 0.1 };

/** The first tick boundary at or after `t`. */
const tickAt = (t: number): number => Math.ceil(t / TICK) * TICK;

interface Options {
  /** Values `random` returns in turn; the last one repeats. */
  randoms?: number[];
  /** Called from the ping hook, after it is recorded. */
  onPing?: (monitor: PeerMonitor, now: number) => void;
  createAt?: number;
  detector?: DetectorFactory;
  stallGuard?: false;
}

function setup(options: Options = {}) {
  const clock = new VirtualClock();
  clock.advanceTo(options.createAt ?? 0);
  const randoms = [...(options.randoms ?? [0.5])];
  const random = () => (randoms.length > 1 ? randoms.shift()! : randoms[0]!);
  const engine = new LivenessEngine({
    scheduler: clock.scheduler,
    tickMs: TICK,
    random,
    ...(options.detector ? { detector: options.detector } : {}),
    ...(options.stallGuard === false ? { stallGuard: false as const } : {}),
  });
  const changes: StateChange[] = [];
  engine.changes$.subscribe((c) => changes.push(c));
  const pings: number[] = [];
  const expired: [Cause, number][] = [];
  const ended: PeerStatus[] = [];
  const monitor: PeerMonitor = new PeerMonitor(
    engine,
    'peer-1',
    {
      ping: (now) => {
        pings.push(now);
        options.onPing?.(monitor, now);
      },
      // The owner's part: tear down on expiry.
      expire: (cause) => {
        expired.push([cause, clock.now()]);
        monitor.end('dead', cause);
      },
      ended: (status) => ended.push(status),
    },
    HANDSHAKE_MS,
  );
  return { clock, engine, monitor, changes, pings, expired, ended };
}

/** Advances to `t` and touches the monitor there. */
function touchAt(s: ReturnType<typeof setup>, t: number, heartbeat = true): void {
  s.clock.advanceTo(t);
  s.monitor.touch(heartbeat);
}

describe('PeerMonitor lifecycle', () => {
  it('starts connecting and turns alive on start()', () => {
    const s = setup({ createAt: 100 });
    expect(s.monitor.status).toStrictEqual({ state: 'connecting', cause: null, since: 100 });
    expect(s.monitor.peerTiming).toBeNull();
    s.clock.advance(230);
    s.monitor.start(timing, false);
    expect(s.monitor.status).toStrictEqual({ state: 'alive', cause: null, since: 330 });
    expect(s.monitor.peerTiming).toBe(timing);
    expect(s.changes).toStrictEqual([{ peerId: 'peer-1', from: 'connecting', to: 'alive', cause: null, at: 330, silenceMs: 230 }]);
  });

  it('ignores start() once started or ended', () => {
    const s = setup();
    s.monitor.start(timing, false);
    s.clock.advance(100);
    s.monitor.start({ ...timing, timeoutMs: 99_999 }, true);
    expect(s.monitor.peerTiming).toBe(timing);
    expect(s.changes).toHaveLength(1);
    s.monitor.end('closed', 'local-close');
    s.monitor.start(timing, true);
    expect(s.monitor.state).toBe('closed');
    expect(s.changes).toHaveLength(2);
  });

  it('expires with handshake-timeout when start() never comes, at the first tick after handshakeTimeoutMs', () => {
    const s = setup({ createAt: 130 });
    s.clock.advanceTo(tickAt(130 + HANDSHAKE_MS) - 1);
    expect(s.expired).toStrictEqual([]);
    expect(s.monitor.state).toBe('connecting');
    s.clock.advance(1);
    expect(s.expired).toStrictEqual([['handshake-timeout', 5150]]);
    expect(s.monitor.status).toStrictEqual({ state: 'dead', cause: 'handshake-timeout', since: 5150 });
    expect(s.changes).toStrictEqual([{ peerId: 'peer-1', from: 'connecting', to: 'dead', cause: 'handshake-timeout', at: 5150, silenceMs: 5020 }]);
    expect(s.ended).toStrictEqual([{ state: 'dead', cause: 'handshake-timeout', since: 5150 }]);
  });

  it('does not count frames before the handshake against the handshake deadline', () => {
    const s = setup();
    touchAt(s, 4000);
    s.clock.advanceTo(5000);
    expect(s.expired).toStrictEqual([['handshake-timeout', 5000]]);
  });

  it('never fires the handshake deadline once started', () => {
    const s = setup({ onPing: (m) => m.touch(true) });
    s.clock.advance(1000);
    s.monitor.start(timing, true);
    s.clock.advance(20_000);
    expect(s.expired).toStrictEqual([]);
    expect(s.monitor.state).toBe('alive');
  });

  it('reports silence since the last inbound frame', () => {
    const s = setup();
    touchAt(s, 700);
    s.clock.advance(321);
    expect(s.monitor.lastSeen).toBe(700);
    expect(s.monitor.silence()).toBe(321);
    expect(s.monitor.silence(2000)).toBe(1300);
  });

  it('feeds pongs to its RTT estimator on the engine clock', () => {
    const s = setup();
    s.clock.advanceTo(1200);
    s.monitor.pong(1000, 50_000);
    expect([s.monitor.rtt.last, s.monitor.rtt.srtt, s.monitor.rtt.offset]).toStrictEqual([200, 200, 48_900]);
  });
});

describe('PeerMonitor pings', () => {
  it('pings every interval × (1 − jitter) with random 0', () => {
    const s = setup({ randoms: [0], onPing: (m) => m.touch(true) });
    s.monitor.start(timing, true);
    s.clock.advance(10_000);
    expect(s.pings).toStrictEqual(Array.from({ length: 11 }, (_, i) => (i + 1) * 900));
  });

  it('pings every interval × (1 + jitter), rounded up to the tick, with random 0.999', () => {
    // 1000 × (1 + 0.998 × 0.1) = 1099.8 ms: due on the 1100 ms boundary.
    const s = setup({ randoms: [0.999], onPing: (m) => m.touch(true) });
    s.monitor.start(timing, true);
    s.clock.advance(11_000);
    expect(s.pings).toStrictEqual(Array.from({ length: 10 }, (_, i) => (i + 1) * 1100));
  });

  it('keeps every gap within interval × (1 ± jitter) across many pings with mixed random values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom(0, 0.999), fc.double({ min: 0, max: 0.999, noNaN: true })), { minLength: 30, maxLength: 30 }),
        (values) => {
          const s = setup({ randoms: [...values, 0.5], onPing: (m) => m.touch(true) });
          s.monitor.start(timing, true);
          s.clock.advance(25 * 1100);
          let expectedAt = 0;
          const expected: number[] = [];
          for (const r of values) {
            expectedAt = tickAt(expectedAt + jitteredInterval(timing, () => r));
            if (expectedAt > 25 * 1100) break;
            expected.push(expectedAt);
          }
          expect(s.pings.slice(0, expected.length)).toStrictEqual(expected);
          let previous = 0;
          for (const at of s.pings) {
            expect(at - previous).toBeGreaterThanOrEqual(900);
            expect(at - previous).toBeLessThanOrEqual(1100);
            previous = at;
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('does not ping when not pinging', () => {
    const s = setup();
    s.monitor.start(timing, false);
    for (let t = 500; t <= 10_000; t += 500) touchAt(s, t);
    expect(s.pings).toStrictEqual([]);
    expect(s.monitor.state).toBe('alive');
  });

  it('stops everything when the ping hook ends the peer', () => {
    const s = setup({ randoms: [0], onPing: (m) => m.end('closed', 'local-close') });
    s.monitor.start(timing, true);
    s.clock.advance(10_000);
    expect(s.pings).toStrictEqual([900]);
    expect(s.monitor.status).toStrictEqual({ state: 'closed', cause: 'local-close', since: 900 });
    expect(s.clock.pending).toBe(0);
  });
});

describe('PeerMonitor verdicts', () => {
  it('turns suspect after suspectAfterMs of silence, on the tick', () => {
    const s = setup();
    touchAt(s, 210);
    s.monitor.start(timing, false);
    s.clock.advanceTo(tickAt(210 + 1500) - 1);
    expect(s.monitor.state).toBe('alive');
    s.clock.advance(1);
    expect(s.monitor.status).toStrictEqual({ state: 'suspect', cause: 'heartbeat-timeout', since: 1750 });
    expect(s.changes.at(-1)).toStrictEqual({ peerId: 'peer-1', from: 'alive', to: 'suspect', cause: 'heartbeat-timeout', at: 1750, silenceMs: 1540 });
  });

  it('returns suspect → alive on touch(), at once', () => {
    const s = setup();
    s.monitor.start(timing, false);
    s.clock.advanceTo(1500);
    expect(s.monitor.state).toBe('suspect');
    touchAt(s, 1777, false);
    expect(s.monitor.status).toStrictEqual({ state: 'alive', cause: null, since: 1777 });
    expect(s.changes.at(-1)).toStrictEqual({ peerId: 'peer-1', from: 'suspect', to: 'alive', cause: null, at: 1777, silenceMs: 0 });
    // And suspect again 1500 ms later.
    s.clock.advanceTo(tickAt(1777 + 1500));
    expect(s.monitor.status).toStrictEqual({ state: 'suspect', cause: 'heartbeat-timeout', since: 3300 });
  });

  it('after suspect → alive, suspects again a full suspect time after the touch, even with a long timeout', () => {
    // Suspect at 1200, dead at 6000: the timer waits for the dead line while suspect and must come back.
    const long: PeerTiming = { intervalMs: 1000, suspectAfterMs: 1200, timeoutMs: 6000, jitter: 0 };
    const s = setup();
    s.monitor.start(long, false);
    s.clock.advanceTo(1200);
    expect(s.monitor.state).toBe('suspect');
    touchAt(s, 1300);
    s.clock.advanceTo(2500);
    expect(s.changes.slice(1).map((c) => [c.to, c.at])).toStrictEqual([
      ['suspect', 1200],
      ['alive', 1300],
      ['suspect', 2500],
    ]);
  });

  it('expires with heartbeat-timeout at the first tick at or after timeoutMs of silence', () => {
    const s = setup();
    s.monitor.start(timing, false);
    touchAt(s, 1234);
    s.clock.advanceTo(tickAt(1234 + 3000) - 1);
    expect(s.expired).toStrictEqual([]);
    expect(s.monitor.state).toBe('suspect');
    s.clock.advance(1);
    expect(s.expired).toStrictEqual([['heartbeat-timeout', 4250]]);
    expect(s.monitor.status).toStrictEqual({ state: 'dead', cause: 'heartbeat-timeout', since: 4250 });
    expect(s.ended).toStrictEqual([s.monitor.status]);
    expect(s.clock.pending).toBe(0);
  });

  it('goes suspect then dead while pings go unanswered', () => {
    const s = setup({ randoms: [0] });
    s.monitor.start(timing, true);
    s.clock.advance(10_000);
    expect(s.pings).toStrictEqual([900, 1800, 2700]);
    expect(s.changes.map((c) => [c.from, c.to, c.cause, c.at, c.silenceMs])).toStrictEqual([
      ['connecting', 'alive', null, 0, 0],
      ['alive', 'suspect', 'heartbeat-timeout', 1500, 1500],
      ['suspect', 'dead', 'heartbeat-timeout', 3000, 3000],
    ]);
  });

  it('declares death within timeoutMs + one tick of the last touch, whatever the touch pattern', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 2999 }), { maxLength: 15 }),
        fc.boolean(),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        (gaps, pinging, r) => {
          const s = setup({ randoms: [r] });
          s.monitor.start(timing, pinging);
          let last = 0;
          for (const gap of gaps) {
            last += gap;
            touchAt(s, last, gap % 2 === 0);
          }
          s.clock.advanceTo(last + 3000 + TICK);
          expect(s.expired).toStrictEqual([['heartbeat-timeout', tickAt(last + 3000)]]);
          expect(s.monitor.status).toStrictEqual({ state: 'dead', cause: 'heartbeat-timeout', since: tickAt(last + 3000) });
          // Never dead before a full timeout of silence: every earlier change was alive ⇄ suspect.
          expect(s.changes.slice(0, -1).every((c) => c.to === 'alive' || c.to === 'suspect')).toBe(true);
          for (const c of s.changes) if (c.to === 'suspect') expect(c.silenceMs).toBeGreaterThanOrEqual(1500);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('puts every peer of an engine on one timer driver', () => {
    const s = setup();
    s.monitor.start(timing, false);
    const others = Array.from({ length: 50 }, (_, i) => new PeerMonitor(s.engine, `p${i}`, { expire: () => undefined }, HANDSHAKE_MS));
    for (const m of others) m.start(timing, true);
    expect(s.clock.pending).toBe(1);
    expect(s.engine.wheel.size).toBe(51);
    for (const m of others) m.end('closed', 'local-close');
    s.monitor.end('closed', 'local-close');
    expect(s.engine.wheel.size).toBe(0);
    expect(s.clock.pending).toBe(0);
  });
});

describe('PeerMonitor streams and end()', () => {
  it('emits status$ in order and completes on end', () => {
    const s = setup();
    const seen: PeerStatus[] = [];
    let completed = false;
    s.monitor.status$.subscribe({ next: (v) => seen.push(v), complete: () => (completed = true) });
    s.clock.advanceTo(100);
    s.monitor.start(timing, false);
    s.clock.advanceTo(1600);
    touchAt(s, 1700);
    s.clock.advanceTo(4700);
    expect(seen).toStrictEqual([
      { state: 'connecting', cause: null, since: 0 },
      { state: 'alive', cause: null, since: 100 },
      { state: 'suspect', cause: 'heartbeat-timeout', since: 1500 },
      { state: 'alive', cause: null, since: 1700 },
      { state: 'suspect', cause: 'heartbeat-timeout', since: 3200 },
      { state: 'dead', cause: 'heartbeat-timeout', since: 4700 },
    ]);
    expect(completed).toBe(true);
    expect(s.changes.map((c) => `${c.from}>${c.to}:${c.cause}@${c.at}`)).toStrictEqual([
      'connecting>alive:null@100',
      'alive>suspect:heartbeat-timeout@1500',
      'suspect>alive:null@1700',
      'alive>suspect:heartbeat-timeout@3200',
      'suspect>dead:heartbeat-timeout@4700',
    ]);
  });

  it('gives a late status$ subscriber the current status', () => {
    const s = setup();
    s.clock.advanceTo(40);
    s.monitor.start(timing, false);
    const seen: PeerStatus[] = [];
    s.monitor.status$.subscribe((v) => seen.push(v));
    expect(seen).toStrictEqual([{ state: 'alive', cause: null, since: 40 }]);
  });

  it('gives a status$ subscriber after the end the final status, then completes', () => {
    const s = setup();
    s.monitor.status$.subscribe(); // the subject exists and completes at the end
    s.clock.advanceTo(10);
    s.monitor.end('closed', 'peer-close');
    const seen: PeerStatus[] = [];
    let completed = false;
    s.monitor.status$.subscribe({ next: (v) => seen.push(v), complete: () => (completed = true) });
    expect(seen).toStrictEqual([{ state: 'closed', cause: 'peer-close', since: 10 }]);
    expect(completed).toBe(true);

    const fresh = setup();
    fresh.monitor.end('dead', 'reset');
    const seenFresh: PeerStatus[] = [];
    fresh.monitor.status$.subscribe((v) => seenFresh.push(v));
    expect(seenFresh).toStrictEqual([{ state: 'dead', cause: 'reset', since: 0 }]);
  });

  it('end() is idempotent: one change, one ended call, the first cause kept', () => {
    const s = setup();
    s.monitor.start(timing, true);
    s.clock.advanceTo(300);
    s.monitor.end('closed', 'local-close');
    s.monitor.end('closed', 'local-close');
    s.monitor.end('dead', 'reset');
    expect(s.monitor.status).toStrictEqual({ state: 'closed', cause: 'local-close', since: 300 });
    expect(s.ended).toStrictEqual([{ state: 'closed', cause: 'local-close', since: 300 }]);
    expect(s.changes.map((c) => c.to)).toStrictEqual(['alive', 'closed']);
    expect(s.clock.pending).toBe(0);
    s.clock.advance(60_000);
    expect(s.pings).toStrictEqual([]);
    expect(s.expired).toStrictEqual([]);
  });

  it('ignores touches after the end', () => {
    const s = setup();
    s.monitor.start(timing, false);
    s.monitor.end('dead', 'reset');
    touchAt(s, 100);
    expect(s.monitor.status).toStrictEqual({ state: 'dead', cause: 'reset', since: 0 });
    expect(s.changes).toHaveLength(2);
  });

  it('names the peer by its current id in change events', () => {
    const s = setup();
    s.monitor.id = 'renamed';
    s.monitor.start(timing, false);
    expect(s.changes.at(-1)!.peerId).toBe('renamed');
  });
});

/** Answers every ping `rttMs` later (a pong), until `until`; answers due while we were stalled arrive at once (backlog). */
function runAnswering(s: ReturnType<typeof setup>, answered: { count: number }, until: number, rttMs = 10): void {
  for (;;) {
    const ping = s.pings[answered.count];
    const due = ping === undefined ? Number.POSITIVE_INFINITY : ping + rttMs;
    if (due > s.clock.now()) {
      // Step at most a tick at a time: pings happen on ticks, and each is answered rttMs later.
      const next = Math.min(due, until, s.clock.now() + TICK);
      if (next <= s.clock.now()) return;
      s.clock.advanceTo(next);
      continue;
    }
    answered.count++;
    if (!isTerminal(s.monitor.state)) s.monitor.touch(true);
  }
}

function isTerminal(state: string): boolean {
  return state === 'dead' || state === 'closed';
}

describe('PeerMonitor and our own stalls', () => {
  it('keeps a peer alive across our stall longer than the timeout when its answers wait unread, and pings at once', () => {
    // random 0.5: exactly one ping per 1000 ms.
    const s = setup();
    const answered = { count: 0 };
    s.monitor.start(timing, true);
    runAnswering(s, answered, 1500);
    // Stopped at 1500 for 4000 ms (> timeoutMs 3000): the driver was due at 1550 and runs at 5500.
    s.clock.stall(4000);
    s.clock.advance(0);
    // The wheel fired before any socket read: the ping due at 2000 went out at once, nobody was judged dead.
    expect(s.pings).toStrictEqual([1000, 5500]);
    // 3950 ms stalled, credited up to the cap (one timeout).
    expect(s.monitor.stallCredit()).toBe(3000);
    expect(s.monitor.silence()).toBe(4490);
    runAnswering(s, answered, 20_000);
    expect(s.changes.map((c) => c.to)).toStrictEqual(['alive']);
    expect(s.expired).toStrictEqual([]);
    expect(s.pings.slice(0, 4)).toStrictEqual([1000, 5500, 6500, 7500]);
  });

  it('without the guard, the same stall kills the peer before its answer is read (the naive server)', () => {
    const s = setup({ stallGuard: false });
    const answered = { count: 0 };
    s.monitor.start(timing, true);
    runAnswering(s, answered, 1500);
    s.clock.stall(4000);
    s.clock.advance(0);
    expect(s.expired).toStrictEqual([['heartbeat-timeout', 5500]]);
  });

  it('re-probes a peer whose verdict turns during our stall and holds it for a grace instead of suspecting it', () => {
    const s = setup();
    s.monitor.start(timing, true);
    s.clock.advanceTo(1460);
    // Due at 1500, run at 4460: in effective time the peer is at 1500 ms of silence, its suspect point.
    s.clock.stall(3000);
    s.clock.advance(0);
    expect(s.monitor.stallCredit()).toBe(2960);
    // The overdue ping (due 2000) is the re-probe; no RTT yet, so the grace is one interval.
    expect(s.pings).toStrictEqual([1000, 4460]);
    expect(s.engine.stats.reprobes).toBe(1);
    expect(s.monitor.state).toBe('alive');
    // Its answer was waiting in the socket: read after the timers, it keeps the peer alive.
    s.monitor.touch(true);
    s.clock.advance(10_000 - 4460);
    // Not suspected at the stall; afterwards, silent again from 4460, it is judged from there.
    expect(s.changes.map((c) => [c.to, c.at])).toStrictEqual([
      ['alive', 0],
      ['suspect', tickAt(4460 + 1500)],
      ['dead', tickAt(4460 + 3000)],
    ]);
  });

  it('judges a silent peer after the grace: suspect at its end, dead at timeout + stall credit', () => {
    const s = setup();
    s.monitor.start(timing, true);
    s.clock.advanceTo(1460);
    s.clock.stall(3000);
    s.clock.advance(0);
    s.clock.advance(20_000);
    expect(s.changes.map((c) => [c.to, c.at, c.silenceMs])).toStrictEqual([
      ['alive', 0, 0],
      // Grace 1000 from the stall's end (4460): armed for 5460, fired on the 5500 tick.
      ['suspect', 5500, 5500],
      // Effective silence 3000 = raw 5960 − credit 2960: the 6000 tick.
      ['dead', 6000, 6000],
    ]);
    expect(s.engine.stats.reprobes).toBe(1);
  });

  it('lets a peer frozen during our stall die within timeout + the stall, at most timeout + the credit cap', () => {
    const s = setup();
    s.monitor.start(timing, false);
    for (let t = 100; t <= 1000; t += 100) touchAt(s, t);
    s.clock.advanceTo(1200);
    // Driver due at 1250, run at 5200: 3950 ms stalled, credited up to the cap of one timeout (3000).
    s.clock.stall(4000);
    s.clock.advance(0);
    expect(s.monitor.state).toBe('alive');
    s.clock.advance(10_000);
    expect(s.changes.map((c) => [c.to, c.at, c.silenceMs])).toStrictEqual([
      ['alive', 0, 0],
      // Effectively suspect at 5500, but held for the re-probe's grace (one interval: no RTT yet) after the stall.
      ['suspect', 5200 + 1000, 5200],
      ['dead', 1000 + 3000 + 3000, 3000 + 3000],
    ]);
  });

  it('credits our stall against the handshake deadline too', () => {
    const s = setup();
    s.clock.advanceTo(1000);
    s.clock.stall(10_000);
    s.clock.advance(0);
    expect(s.expired).toStrictEqual([]);
    s.clock.advance(10_000);
    // 9950 ms stalled, credited up to the cap (the handshake timeout): the deadline passed during the stall.
    // One grace of 4 ticks for a hello waiting unread, then it ends.
    expect(s.expired).toStrictEqual([['handshake-timeout', 11_000 + 4 * TICK]]);
  });

  it('does not let the phi detector learn the backlog read right after our stall', () => {
    const detectors: PhiAccrualDetector[] = [];
    const factory = phiAccrualDetector({ windowSize: 8, minStdDeviationMs: 20 });
    const s = setup({ detector: (t, start) => detectors[detectors.push(factory(t, start) as PhiAccrualDetector) - 1]! });
    const answered = { count: 0 };
    s.monitor.start(timing, true);
    runAnswering(s, answered, 20_500);
    const d = detectors[0]!;
    const before = [d.sampleCount, d.mean];
    expect(before).toStrictEqual([8, 1000]);
    s.clock.stall(5000);
    s.clock.advance(0);
    // Three answers that were queued, read in one go.
    for (let i = 0; i < 3; i++) s.monitor.touch(true);
    expect([d.sampleCount, d.mean]).toStrictEqual(before);
    expect(s.changes.map((c) => c.to)).toStrictEqual(['alive']);
  });
});

describe('PeerMonitor with the phi accrual detector', () => {
  const phiOptions: PhiAccrualOptions = { windowSize: 4, minStdDeviationMs: 50, acceptableHeartbeatPauseMs: 0, firstHeartbeatEstimateMs: 1000 };

  it('wakes exactly where φ crosses each threshold (no polling): suspect, then dead before the hard cap', () => {
    const s = setup({ detector: phiAccrualDetector(phiOptions) });
    s.monitor.start(timing, false);
    for (let t = 1000; t <= 8000; t += 1000) touchAt(s, t);
    s.clock.advance(10_000);
    // Window of 1000s, std at its floor 50: suspect at 1000 + 3.0589·50, dead at 1000 + 5.2260·50 after 8000.
    const suspectAt = 8000 + 1000 + phiInverse(3) * 50;
    const deadAt = 8000 + 1000 + phiInverse(8) * 50;
    expect([suspectAt, deadAt].map((t) => Math.round(t))).toStrictEqual([9153, 9261]);
    expect(s.changes.slice(1).map((c) => [c.to, c.at])).toStrictEqual([
      ['suspect', tickAt(suspectAt)],
      ['dead', tickAt(deadAt)],
    ]);
  });

  it('never waits past the hard cap', () => {
    const s = setup({ detector: phiAccrualDetector({ ...phiOptions, acceptableHeartbeatPauseMs: 60_000 }) });
    s.monitor.start(timing, false);
    for (let t = 1000; t <= 8000; t += 1000) touchAt(s, t);
    s.clock.advance(10_000);
    // Suspicion has no pause; death would wait 60 s past the mean, but the cap is 3 s.
    expect(s.changes.slice(1).map((c) => [c.to, c.at])).toStrictEqual([
      ['suspect', tickAt(9153)],
      ['dead', 8000 + 3000],
    ]);
  });

  it('returns suspect → alive on any frame', () => {
    const s = setup({ detector: phiAccrualDetector(phiOptions) });
    s.monitor.start(timing, false);
    for (let t = 1000; t <= 5000; t += 1000) touchAt(s, t);
    s.clock.advanceTo(6200);
    expect(s.monitor.state).toBe('suspect');
    touchAt(s, 6210, false);
    expect(s.monitor.status).toStrictEqual({ state: 'alive', cause: null, since: 6210 });
  });
});
