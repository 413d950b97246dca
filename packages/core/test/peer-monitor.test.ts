import fc from 'fast-check';
import type { PeerTiming } from '../src/config.js';
import { LivenessEngine } from '../src/liveness-engine.js';
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
}

function setup(options: Options = {}) {
  const clock = new VirtualClock();
  clock.advanceTo(options.createAt ?? 0);
  const randoms = [...(options.randoms ?? [0.5])];
  const random = () => (randoms.length > 1 ? randoms.shift()! : randoms[0]!);
  const engine = new LivenessEngine({ scheduler: clock.scheduler, tickMs: TICK, random });
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
