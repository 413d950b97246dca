/**
 * A server-side session with one client: identity, metadata, liveness and sending.
 * Created by `VigilServer` when a handshake completes. With resume on, the same `Peer`
 * outlives its transport: it is `detached` while its client may come back, and a resumed
 * session carries on in it over the new connection (`sessionChanges$` says when).
 */
import type { Cause, Connection, PeerStatus, PeerTiming, PeerState, SessionChange, SessionState, SessionStream, TransportKind } from '@vigil/core';
import { CloseCode } from '@vigil/protocol';
import { Subject, of, type Observable } from 'rxjs';
import type { Logger } from 'pino';

/** What `/api/peers` and `VigilServer.snapshot()` report for one peer (alive or recently ended). */
export interface PeerInfo {
  readonly id: string;
  readonly sessionId: string;
  readonly transport: TransportKind;
  readonly remote: string;
  readonly state: PeerState;
  /** Cause of the current state; null while connecting or alive. */
  readonly cause: string | null;
  /** Smoothed RTT (RFC 6298 SRTT), ms; null before the first pong. */
  readonly rttMs: number | null;
  /** RTT variation, ms; null before the first pong. */
  readonly rttVarMs: number | null;
  /** Recent raw RTT samples, ms, oldest first. */
  readonly rttSamples: readonly number[];
  /** Estimated client clock minus server clock, ms; null before the first pong. */
  readonly clockOffsetMs: number | null;
  /** Ms since the last inbound frame (frozen at the moment of death for ended peers). */
  readonly lastSeenMs: number;
  /** Ping interval and death timeout in force, ms. */
  readonly intervalMs: number | null;
  readonly timeoutMs: number | null;
  /** Clock time the session started and the current state began, ms. */
  readonly connectedAt: number;
  readonly since: number;
  /** Sessions this peer id has opened on this server before this one. */
  readonly reconnects: number;
  /** With resume on: the session's state (`attached`, `detached`, `ended`). */
  readonly session?: SessionState;
  /** With resume on: times this session was resumed on a new transport. */
  readonly resumes?: number;
}

function finite(n: number): number | null {
  return Number.isNaN(n) ? null : Math.round(n * 1000) / 1000;
}

export class Peer<Out = unknown> {
  /** Free-form per-peer metadata for the application (the map is created on first use: most peers never have any). */
  get meta(): Map<string, unknown> {
    return (this.metaMap ??= new Map());
  }
  private metaMap: Map<string, unknown> | null = null;
  /** Times this session was resumed on a new transport. */
  resumes = 0;
  /** @internal The session's data stream (seq, acks, replay buffer); it outlives connections. */
  readonly stream: SessionStream;
  /** @internal Set by the server: ends a detached session for good. */
  endDetached: ((cause: Cause) => void) | null = null;
  private log: Logger | null = null;
  private conn: Connection;
  private sessionValue: SessionState = 'attached';
  private sessionSubject: Subject<SessionChange> | null = null;

  constructor(
    /** The id the client asked for (or one the server assigned). */
    readonly id: string,
    readonly sessionId: string,
    connection: Connection,
    /** Clock time the session was accepted, ms. */
    readonly connectedAt: number,
    readonly reconnects: number,
    private readonly baseLogger: Logger,
  ) {
    this.conn = connection;
    this.stream = connection.session;
  }

  /** @internal The connection carrying the session now (or last, while detached). */
  get connection(): Connection {
    return this.conn;
  }

  /** `attached`, `detached` (transport gone, session held for resume) or `ended`. Always `attached` or `ended` without resume. */
  get sessionState(): SessionState {
    return this.sessionValue;
  }

  /** This session's state changes: `detached`, `attached` again on a resume, `ended`. Completes when it ends. */
  get sessionChanges$(): Observable<SessionChange> {
    if (this.sessionValue === 'ended') return of();
    this.sessionSubject ??= new Subject<SessionChange>();
    return this.sessionSubject.asObservable();
  }

  /** True while every message the client has not acknowledged is still held, so the session can be resumed. */
  get resumable(): boolean {
    return this.stream.resumable;
  }

  /** Messages sent (or queued while detached) that the client has not acknowledged yet. 0 without resume. */
  get backlog(): number {
    return this.stream.backlog;
  }

  /** @internal Moves the session to `to`; returns the change, or null if it was already there or ended. */
  setSession(to: SessionState, cause: Cause | null, at: number): SessionChange | null {
    const from = this.sessionValue;
    if (from === to || from === 'ended') return null;
    this.sessionValue = to;
    const change: SessionChange = { peerId: this.id, sessionId: this.sessionId, from, to, cause, at };
    this.sessionSubject?.next(change);
    if (to === 'ended') this.sessionSubject?.complete();
    return change;
  }

  /** @internal A resume: the session continues over `connection`. */
  rebind(connection: Connection): void {
    this.conn = connection;
    this.resumes++;
  }

  get transport(): TransportKind {
    return this.connection.transport.kind;
  }

  get remote(): string {
    return this.connection.transport.remote;
  }

  get state(): PeerState {
    return this.connection.monitor.state;
  }

  get status(): PeerStatus {
    return this.connection.monitor.status;
  }

  /** Current and future liveness; completes when the peer is dead or closed. */
  get status$(): Observable<PeerStatus> {
    return this.connection.monitor.status$;
  }

  get timing(): PeerTiming | null {
    return this.connection.monitor.peerTiming;
  }

  /** Smoothed RTT, ms (NaN before the first pong). */
  get rttMs(): number {
    return this.connection.monitor.rtt.srtt;
  }

  /** Ms since the last inbound frame from this peer (any frame, heartbeat or data). */
  get silenceMs(): number {
    return this.connection.monitor.silence();
  }

  /** Estimated client clock minus server clock, ms (NaN before the first pong). */
  get clockOffsetMs(): number {
    return this.connection.monitor.rtt.offset;
  }

  /** A pino child logger bound to this peer (created on first use). */
  get logger(): Logger {
    // A silent logger (the library default) needs no child: one per peer costs ~0.4 KB of heap (heap snapshot) and a serialisation of its bindings.
    if (this.log === null && this.baseLogger.level === 'silent') return this.baseLogger;
    this.log ??= this.baseLogger.child({ component: 'peer', peerId: this.id, sessionId: this.sessionId });
    return this.log;
  }

  /**
   * Sends one application message; false if the session has ended. While detached the
   * message is queued for replay on resume; if that passes the replay bound the session
   * ends (cause `resume-overflow`) and this returns false.
   */
  send(message: Out): boolean {
    if (this.sessionValue === 'detached') {
      this.stream.nextData(message);
      return this.sessionState === 'detached';
    }
    return this.sessionValue === 'attached' && this.conn.send(message);
  }

  /** Orderly close with a code and reason sent to the client; ends a detached session. */
  close(code: number = CloseCode.Normal, reason = ''): void {
    if (this.sessionValue === 'detached') this.endDetached?.('local-close');
    else this.conn.close(code, reason);
  }

  /** Declares the peer dead now and destroys its transport; ends a detached session. */
  terminate(): void {
    if (this.sessionValue === 'detached') this.endDetached?.('local-close');
    else this.conn.kill('local-close');
  }

  /** @internal */
  info(now: number, endedSilence?: number): PeerInfo {
    const m = this.connection.monitor;
    const status = m.status;
    const timing = m.peerTiming;
    return {
      id: this.id,
      sessionId: this.sessionId,
      transport: this.transport,
      remote: this.remote,
      state: status.state,
      cause: status.cause,
      rttMs: finite(m.rtt.srtt),
      rttVarMs: finite(m.rtt.rttvar),
      rttSamples: m.rtt.samples(),
      clockOffsetMs: finite(m.rtt.offset),
      lastSeenMs: Math.round(endedSilence ?? now - m.lastSeen),
      intervalMs: timing?.intervalMs ?? null,
      timeoutMs: timing?.timeoutMs ?? null,
      connectedAt: this.connectedAt,
      since: status.since,
      reconnects: this.reconnects,
      ...(this.stream.acking ? { session: this.sessionValue, resumes: this.resumes } : {}),
    };
  }
}
