/**
 * One peer's liveness: the state machine (`connecting → alive ⇄ suspect → dead`,
 * or `closed`), its failure detector, RTT estimator and ping schedule, on one
 * reusable wheel timer. An inbound frame only writes a timestamp; the timer
 * re-checks lazily when it fires (Netty's IdleStateHandler does the same).
 */
import { BehaviorSubject, of, type Observable } from 'rxjs';
import type { PeerTiming } from './config.js';
import type { FailureDetector } from './failure-detector.js';
import type { LivenessEngine } from './liveness-engine.js';
import { isTerminal, type Cause, type PeerState, type PeerStatus } from './peer-state.js';
import { RttEstimator } from './rtt-estimator.js';
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

  constructor(
    private readonly engine: LivenessEngine,
    id: string,
    private readonly hooks: MonitorHooks,
    private readonly handshakeTimeoutMs: number,
  ) {
    this.id = id;
    const now = engine.now();
    this.lastSeen = now;
    this.current = { state: 'connecting', cause: null, since: now };
    this.timer = engine.wheel.timer((t) => this.fire(t));
    this.timer.schedule(now + handshakeTimeoutMs);
  }

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

  /** Handshake done: `connecting → alive`; starts the detector and, if `pinging`, the ping schedule. */
  start(timing: PeerTiming, pinging: boolean): void {
    if (this.current.state !== 'connecting') return;
    const now = this.engine.now();
    this.timing = timing;
    this.detector = this.engine.detector(timing, this.lastSeen);
    this.nextPingAt = pinging ? now + jitteredInterval(timing, this.engine.random) : Number.POSITIVE_INFINITY;
    this.transition('alive', null, now);
    this.arm(now);
  }

  /** Proof of life: any inbound frame. `heartbeat` marks ping/pong frames. */
  touch(heartbeat: boolean): void {
    const now = this.engine.now();
    this.lastSeen = now;
    if (this.detector === null) return;
    this.detector.record(now, heartbeat);
    if (this.current.state === 'suspect') this.transition('alive', null, now);
  }

  /** A pong answered our ping sent at `sentAt` (our clock); `peerTime` is the peer's clock. */
  pong(sentAt: number, peerTime: number): void {
    this.rtt.samplePong(sentAt, peerTime, this.engine.now());
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
    if (state === 'connecting' || this.timing === null || this.detector === null) {
      if (now - this.current.since >= this.handshakeTimeoutMs) this.hooks.expire('handshake-timeout');
      else this.timer.schedule(this.current.since + this.handshakeTimeoutMs);
      return;
    }
    if (now >= this.nextPingAt) {
      this.hooks.ping?.(now);
      if (isTerminal(this.current.state)) return;
      this.nextPingAt = now + jitteredInterval(this.timing, this.engine.random);
    }
    const verdict = now - this.lastSeen >= this.timing.timeoutMs ? 'dead' : this.detector.verdict(now);
    if (verdict === 'dead') {
      this.hooks.expire('heartbeat-timeout');
      return;
    }
    if (verdict === 'suspect' && this.current.state === 'alive') this.transition('suspect', 'heartbeat-timeout', now);
    else if (verdict === 'alive' && this.current.state === 'suspect') this.transition('alive', null, now);
    if (!isTerminal(this.current.state)) this.arm(now);
  }

  private arm(now: number): void {
    const timing = this.timing!;
    const next = Math.min(this.nextPingAt, this.detector!.nextCheckAt(now), this.lastSeen + timing.timeoutMs);
    this.timer.schedule(Math.max(next, now));
  }

  private transition(to: PeerState, cause: Cause | null, now: number): void {
    const from = this.current.state;
    this.current = { state: to, cause, since: now };
    this.subject?.next(this.current);
    this.engine.emit({ peerId: this.id, from, to, cause, at: now, silenceMs: now - this.lastSeen });
  }
}
