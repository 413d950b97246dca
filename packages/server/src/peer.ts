/**
 * A server-side session with one client: identity, metadata, liveness and sending.
 * Created by `VigilServer` for every accepted transport; visible to the application
 * once the handshake completed.
 */
import type { Connection, PeerStatus, PeerTiming, PeerState, TransportKind } from '@vigil/core';
import { CloseCode } from '@vigil/protocol';
import type { Observable } from 'rxjs';
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
}

function finite(n: number): number | null {
  return Number.isNaN(n) ? null : Math.round(n * 1000) / 1000;
}

export class Peer<Out = unknown> {
  /** Free-form per-peer metadata for the application. */
  readonly meta = new Map<string, unknown>();
  private log: Logger | null = null;

  constructor(
    /** The id the client asked for (or one the server assigned). */
    readonly id: string,
    readonly sessionId: string,
    /** @internal */ readonly connection: Connection,
    /** Clock time the session was accepted, ms. */
    readonly connectedAt: number,
    readonly reconnects: number,
    private readonly baseLogger: Logger,
  ) {}

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
    this.log ??= this.baseLogger.child({ component: 'peer', peerId: this.id, sessionId: this.sessionId });
    return this.log;
  }

  /** Sends one application message; false if the peer has ended. */
  send(message: Out): boolean {
    return this.connection.send(message);
  }

  /** Orderly close with a code and reason sent to the client. */
  close(code: number = CloseCode.Normal, reason = ''): void {
    this.connection.close(code, reason);
  }

  /** Declares the peer dead now and destroys its transport. */
  terminate(): void {
    this.connection.kill('local-close');
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
    };
  }
}
