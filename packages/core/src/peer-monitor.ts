/**
 * One peer's liveness: the state machine (`connecting → alive ⇄ suspect → dead`,
 * or `closed`), its failure detector, RTT estimator and ping schedule, on one
 * reusable wheel timer. An inbound frame only writes a timestamp; the timer
 * re-checks lazily when it fires (Netty's IdleStateHandler does the same).
 * Detectors and the hard cap judge in effective time (our own stalls cut out, up to a
 * capped credit per silence), and a peer that would turn suspect or dead right after our
 * stall is re-probed first.
 */
import { BehaviorSubject, of, type Observable } from 'rxjs';
import type { PeerTiming } from './config.js';
import type { FailureDetector, Verdict } from './failure-detector.js';
import type { LivenessEngine } from './liveness-engine.js';
import { isTerminal, type Cause, type PeerState, type PeerStatus } from './peer-state.js';
import { RttEstimator } from './rtt-estimator.js';
import { STALL_DEFAULTS, type StallGuard } from './stall-guard.js';
import type { WheelTimer } from './timing-wheel.js';

export interface MonitorHooks {
  /** A ping is due (pinging monitors only). */
  ping?(now: number): void;
  /** The monitor's own verdict ends the peer; the owner must tear the connection down. */
  expire(cause: Cause): void;
  /** The peer reached `dead` or `closed`, for whatever reason. */
  ended?(status: PeerStatus): void;
}

/** Next gap between pings: interval × (1 ± jitter), uniformly. */
export function jitteredInterval(timing: PeerTiming, random: () => number): number {
  return timing.intervalMs * (1 + (2 * random() - 1) * timing.jitter);
}

export class PeerMonitor {
  /** Peer id used in change events; may be set once the handshake names the peer. */
  id: string;
  /** Clock time (ms) of the last inbound frame. */
  lastSeen: number;
  readonly rtt = new RttEstimator();
  private current: PeerStatus;
  private timing: PeerTiming | null = null;
  private detector: FailureDetector | null = null;
  private nextPingAt = Number.POSITIVE_INFINITY;
  private readonly timer: WheelTimer;
  private subject: BehaviorSubject<PeerStatus> | null = null;
  private readonly stalls: StallGuard | null;
  /** Effective time (`stalls.effective`) of the last inbound frame and of creation. */
  private lastSeenEff: number;
  private readonly createdEff: number;
  /** End of the stall we last re-probed this peer for. */
  private reprobedFor = Number.NEGATIVE_INFINITY;
  /** How far this peer's effective clock runs ahead of the guard's: the credit its cap withheld, ms. */
  private ahead = 0;
  /** End of the one last grace a peer past its credit cap gets; NaN until then, and again after each frame. */
  private lastGraceEnd = Number.NaN;
  /** Background mode (the peer's page is hidden): the silence, ms, that kills it instead of its timing; 0 when off. */
  private backgroundMs = 0;

  constructor(
    private readonly engine: LivenessEngine,
    id: string,
    private readonly hooks: MonitorHooks,
    private readonly handshakeTimeoutMs: number,
  ) {
    this.id = id;
    const now = engine.now();
    this.stalls = engine.stalls;
    this.lastSeen = now;
    this.lastSeenEff = this.createdEff = this.stalls?.effective(now) ?? now;
    this.current = { state: 'connecting', cause: null, since: now };
    this.timer = engine.wheel.timer(PeerMonitor.onTimer, this);
    this.timer.schedule(now + handshakeTimeoutMs);
  }

  /** The timer's callback, shared by every monitor (no closure per peer). */
  private static readonly onTimer = function (this: PeerMonitor, now: number): void {
    this.fire(now);
  };

  get status(): PeerStatus {
    return this.current;
  }

  get state(): PeerState {
    return this.current.state;
  }

  /** The timing in force once started. */
  get peerTiming(): PeerTiming | null {
    return this.timing;
  }

  /** Current and future status; completes when the peer is dead or closed. */
  get status$(): Observable<PeerStatus> {
    // A completed BehaviorSubject replays nothing: late subscribers still get the final status.
    if (isTerminal(this.current.state)) return of(this.current);
    if (this.subject === null) {
      this.subject = new BehaviorSubject(this.current);
    }
    return this.subject.asObservable();
  }

  /** Ms since the last inbound frame. */
  silence(now = this.engine.now()): number {
    return now - this.lastSeen;
  }

  /** Ms of the silence since the last inbound frame that our own stalls excuse (at most the credit cap). */
  stallCredit(now = this.engine.now()): number {
    return this.stalls === null ? 0 : Math.max(0, now - this.lastSeen - (this.effective(now) - this.lastSeenEff));
  }

  /** Handshake done: `connecting → alive`; starts the detector and, if `pinging`, the ping schedule. */
  start(timing: PeerTiming, pinging: boolean): void {
    if (this.current.state !== 'connecting') return;
    const now = this.engine.now();
    this.timing = timing;
    this.detector = this.engine.detector(timing, this.lastSeenEff);
    this.nextPingAt = pinging ? now + jitteredInterval(timing, this.engine.random) : Number.POSITIVE_INFINITY;
    this.transition('alive', null, now);
    this.arm(now);
  }

  /** Proof of life: any inbound frame. `heartbeat` marks ping/pong frames. */
  touch(heartbeat: boolean): void {
    const now = this.engine.now();
    // Observations of one stall may merge into an earlier start: never go back.
    this.lastSeenEff = Math.max(this.lastSeenEff, this.effective(now));
    this.lastSeen = now;
    this.ahead = this.stalls === null ? 0 : this.lastSeenEff - this.stalls.effective(now);
    this.lastGraceEnd = Number.NaN;
    if (this.detector === null) return;
    // What we read right after our own stall is backlog: proof of life, not a sample of the peer's rhythm.
    const backlog = this.stalls !== null && now < this.stalls.lastEnd + this.graceMs();
    // Nor is a backgrounded page's rhythm, which is the browser's throttling.
    this.detector.record(this.lastSeenEff, heartbeat, heartbeat && !backlog && this.backgroundMs === 0);
    if (this.current.state === 'suspect') {
      this.transition('alive', null, now);
      // While suspect the timer waits for the dead line; alive again, the next check is the (earlier) suspect line.
      this.arm(now);
    }
  }

  /** A pong answered our ping sent at `sentAt` (our clock); `peerTime` is the peer's clock. */
  pong(sentAt: number, peerTime: number): void {
    this.rtt.samplePong(sentAt, peerTime, this.engine.now());
  }

  /**
   * Background mode, for a client whose page is hidden, frozen or offline: with `timeoutMs` > 0
   * the peer may still turn suspect, but only `timeoutMs` of silence kills it; 0 restores its
   * normal timing. Heartbeats heard meanwhile teach the detector nothing.
   */
  setBackground(timeoutMs: number): void {
    if (this.backgroundMs === timeoutMs) return;
    this.backgroundMs = timeoutMs;
    if (this.timing !== null && !isTerminal(this.current.state)) this.arm(this.engine.now());
  }

  /** The background timeout in force, ms; 0 while the peer is judged by its normal timing. */
  get backgroundTimeoutMs(): number {
    return this.backgroundMs;
  }

  /** Ends the peer (idempotent). */
  end(state: 'dead' | 'closed', cause: Cause): void {
    if (isTerminal(this.current.state)) return;
    this.timer.cancel();
    this.transition(state, cause, this.engine.now());
    this.subject?.complete();
    this.hooks.ended?.(this.current);
  }

  private fire(now: number): void {
    const state = this.current.state;
    if (isTerminal(state)) return;
    const eff = this.effective(now);
    if (state === 'connecting' || this.timing === null || this.detector === null) {
      const left = this.createdEff + this.handshakeTimeoutMs - eff;
      if (left > 0) this.timer.schedule(now + left);
      else if (!this.held(now, false)) this.hooks.expire('handshake-timeout');
      return;
    }
    let pinged = false;
    if (now >= this.nextPingAt) {
      this.hooks.ping?.(now);
      if (isTerminal(this.current.state)) return;
      pinged = true;
      this.nextPingAt = now + jitteredInterval(this.timing, this.engine.random);
    }
    const verdict = this.backgroundMs > 0 ? this.backgroundVerdict(eff) : eff - this.lastSeenEff >= this.timing.timeoutMs ? 'dead' : this.detector.verdict(eff);
    if (verdict !== 'alive' && this.held(now, pinged)) return;
    if (verdict === 'dead') {
      this.hooks.expire('heartbeat-timeout');
      return;
    }
    if (verdict === 'suspect' && this.current.state === 'alive') this.transition('suspect', 'heartbeat-timeout', now);
    else if (verdict === 'alive' && this.current.state === 'suspect') this.transition('alive', null, now);
    if (!isTerminal(this.current.state)) this.arm(now);
  }

  /**
   * Node runs expired timers before it polls sockets: right after our stall the peer's
   * answers may still sit unread. A peer whose verdict turned is pinged once per stall and
   * held until a grace after it; past its credit cap (or before its handshake) only once
   * more, since a saturated loop stalls on every tick. True if held (the timer is armed).
   */
  private held(now: number, pinged: boolean): boolean {
    const stalls = this.stalls;
    if (stalls === null || stalls.lastEnd <= this.lastSeen) return false;
    let until = stalls.lastEnd + this.graceMs();
    let reprobe = this.timing !== null && this.reprobedFor !== stalls.lastEnd;
    if (this.timing === null || now - this.lastSeen >= this.limitMs() + this.creditCap()) {
      if (Number.isNaN(this.lastGraceEnd)) this.lastGraceEnd = until;
      else {
        until = this.lastGraceEnd;
        reprobe = false;
      }
    }
    if (now >= until) return false;
    if (reprobe) {
      this.reprobedFor = stalls.lastEnd;
      this.engine.stats.reprobes++;
      if (!pinged) this.hooks.ping?.(now);
      if (isTerminal(this.current.state)) return true;
    }
    if (this.timing === null) this.timer.schedule(until);
    else this.arm(now, until);
    return true;
  }

  /** The silence, ms, the hard cap allows in effective time: the timeout, or the background timeout. */
  private limitMs(): number {
    return this.backgroundMs > 0 ? this.backgroundMs : this.timing!.timeoutMs;
  }

  /** The most of one silence our stalls may excuse, ms (`StallGuardOptions.maxCreditMs`). */
  private creditCap(): number {
    return this.stalls?.creditCap(this.timing?.timeoutMs ?? this.handshakeTimeoutMs) ?? 0;
  }

  /** Arms the timer for the next ping, verdict change or hard cap (or `until`), whichever is first. */
  private arm(now: number, until = Number.POSITIVE_INFINITY): void {
    const timing = this.timing!;
    const eff = this.effective(now);
    // Effective deadlines map back to the clock assuming no further stall; if one comes, the wheel fires late and we re-judge.
    const background = this.backgroundMs > 0;
    // In background mode a suspect peer waits for the background cap alone: the detector has nothing more to say.
    const check = background && this.current.state === 'suspect' ? Number.POSITIVE_INFINITY : this.detector!.nextCheckAt(eff);
    const judgeAt = now + Math.min(check, this.lastSeenEff + (background ? this.backgroundMs : timing.timeoutMs)) - eff;
    this.timer.schedule(Math.max(Math.min(this.nextPingAt, judgeAt, until), now));
  }

  /** Background mode: the detector may make the peer suspect; only the background timeout kills it. */
  private backgroundVerdict(eff: number): Verdict {
    if (eff - this.lastSeenEff >= this.backgroundMs) return 'dead';
    return this.detector!.verdict(eff) === 'alive' ? 'alive' : 'suspect';
  }

  /** Grace after our own stall: a few RTOs, at least a few ticks, at most one interval. */
  private graceMs(): number {
    const tick = this.engine.wheel.tickMs;
    // Before the handshake: the socket reads that follow the late tick.
    if (this.timing === null) return STALL_DEFAULTS.graceMinTicks * tick;
    const interval = this.timing.intervalMs;
    const rto = Number.isNaN(this.rtt.srtt) ? interval : this.rtt.rto(tick);
    return Math.min(interval, Math.max(STALL_DEFAULTS.graceRtos * rto, STALL_DEFAULTS.graceMinTicks * tick));
  }

  /**
   * This peer's effective time: the clock less our stalls since its last frame, but at most
   * `creditCap()` of them; `ahead` keeps what earlier caps withheld, so it never jumps back.
   */
  private effective(now: number): number {
    if (this.stalls === null) return now;
    return Math.max(this.stalls.effective(now) + this.ahead, this.lastSeenEff + (now - this.lastSeen) - this.creditCap());
  }

  private transition(to: PeerState, cause: Cause | null, now: number): void {
    const from = this.current.state;
    this.current = { state: to, cause, since: now };
    this.subject?.next(this.current);
    this.engine.emit({ peerId: this.id, from, to, cause, at: now, silenceMs: now - this.lastSeen });
  }
}
