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
  | 'transport-error';

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

export function isTerminal(state: PeerState): boolean {
  return state === 'dead' || state === 'closed';
}
