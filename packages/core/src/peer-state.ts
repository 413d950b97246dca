/**
 * Liveness vocabulary shared by every package: the peer state machine's states,
 * the closed union of causes, and the events a liveness stream carries.
 */

/**
 * `connecting → alive ⇄ suspect → dead`, or `→ closed` on an orderly close.
 * `dead` and `closed` are final for a connection.
 */
export type PeerState = 'connecting' | 'alive' | 'suspect' | 'dead' | 'closed';

/** Why a connection ended (with `dead` or `closed`) or why a peer turned suspect. */
export type Cause =
  /** No inbound frame for the detector's limit (the application heartbeat fired). */
  | 'heartbeat-timeout'
  /** The peer did not complete the handshake in time. */
  | 'handshake-timeout'
  /** The connection was reset (ECONNRESET, EPIPE). */
  | 'reset'
  /** The peer closed the transport without a Vigil `close` message (a crashed process, say). */
  | 'closed-by-peer'
  /** The peer sent a Vigil `close` message (orderly). */
  | 'peer-close'
  /** This side closed the connection (orderly). */
  | 'local-close'
  /** The peer broke the protocol (garbage, bad message, wrong order). */
  | 'protocol-error'
  /** The peer sent a frame larger than the limit. */
  | 'frame-too-large'
  /** The kernel's TCP keepalive gave up (ETIMEDOUT while idle). */
  | 'kernel-keepalive'
  /** The kernel's TCP_USER_TIMEOUT or retransmission limit gave up. */
  | 'kernel-user-timeout'
  /** The peer did not read and our send buffer passed its cap. */
  | 'slow-consumer'
  /** The peer pinged faster than allowed. */
  | 'too-many-pings'
  /** The server refused the handshake (version, authentication, capacity). */
  | 'rejected'
  /** A newer connection with the same peer id replaced this one. */
  | 'replaced'
  /** The server is shutting down or asked the client to go away. */
  | 'goaway'
  /** Any other transport error. */
  | 'transport-error'
  /** The cluster node holding this peer lost its lease (crashed, frozen or cut off from Redis); see docs/cluster.md. */
  | 'node-lost'
  /** A detached session's resume window passed without its client coming back (session only). */
  | 'resume-expired'
  /** More was sent to a detached session than its replay buffer may hold (session only). */
  | 'resume-overflow';

/** A point-in-time view of one peer's liveness. */
export interface PeerStatus {
  readonly state: PeerState;
  /** Set once the state is `suspect`, `dead` or `closed`; null otherwise. */
  readonly cause: Cause | null;
  /** Clock time (ms) the state was entered. */
  readonly since: number;
}

/** One state change of one peer, as carried by liveness event streams. */
export interface StateChange {
  readonly peerId: string;
  readonly from: PeerState;
  readonly to: PeerState;
  readonly cause: Cause | null;
  /** Clock time (ms) of the change. */
  readonly at: number;
  /** Ms of silence (since the last inbound frame) at the change. */
  readonly silenceMs: number;
}

/**
 * A session's state across transports (a server `Peer` with resume on). `attached` while a
 * connection carries it; `detached` once that connection has ended `dead` but the session
 * is held for its client to resume it; `ended` for good. `attached ⇄ detached → ended`,
 * or `attached → ended`. The connection's own `PeerState` is unchanged by this: a detached
 * session's last connection is `dead`, and a resumed session has a new connection.
 */
export type SessionState = 'attached' | 'detached' | 'ended';

/** One change of a session's state. */
export interface SessionChange {
  readonly peerId: string;
  readonly sessionId: string;
  readonly from: SessionState;
  readonly to: SessionState;
  /** Why it detached or ended (the transport's cause, `resume-expired`, ...); null when it (re)attached. */
  readonly cause: Cause | null;
  /** Clock time (ms) of the change. */
  readonly at: number;
}

export function isTerminal(state: PeerState): boolean {
  return state === 'dead' || state === 'closed';
}
