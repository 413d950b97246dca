/**
 * The cluster's public vocabulary: a peer's presence entry, a node's record, and the
 * presence events every node publishes and receives. These are also the JSON shapes
 * stored in Redis and sent on the events channel (docs/cluster.md §2-3).
 */
import type { Cause, TransportKind } from '@vigil/core';

/** One online peer, as every node sees it. Times are wall-clock ms (Unix epoch). */
export interface ClusterPeer {
  readonly id: string;
  /** The node holding the peer's connection. */
  readonly node: string;
  readonly sessionId: string;
  /** Cluster-wide session order: a peer's newer session always has the higher epoch. */
  readonly epoch: number;
  /** Dead and closed peers are not present; they appear only in events. */
  readonly state: 'alive' | 'suspect';
  /** Why the peer is suspect; null while alive. */
  readonly cause: Cause | null;
  readonly transport: TransportKind;
  readonly remote: string;
  /** When the session started (node clock). */
  readonly connectedAt: number;
  /** When the current state began (node clock). */
  readonly since: number;
  /** Smoothed RTT in ms as last flushed by its node (every `rttFlushMs`); null before the first pong. */
  readonly rttMs: number | null;
}

/** One node, from `Cluster.nodes()`. */
export interface ClusterNode {
  readonly node: string;
  /** Token of the node's current lease (a new one on every acquisition). */
  readonly incarnation: string;
  readonly host: string;
  readonly pid: number;
  /** When the node's process attached, and when it last acquired its lease (Redis clock), wall ms. */
  readonly startedAt: number;
  readonly acquiredAt: number;
  readonly leaseTtlMs: number;
  /** Ms since the lease was last renewed (`leaseTtlMs` minus what is left of it). */
  readonly leaseAgeMs: number;
  /** Ms until the lease expires; 0 once expired. */
  readonly leaseLeftMs: number;
  /** `live` while the lease holds; `expired` until a node notices; `lost` while its peers are being removed. */
  readonly state: 'live' | 'expired' | 'lost';
  /** Peers the node holds. */
  readonly peers: number;
}

interface EventBase {
  /** Cluster-wide sequence number: dense, one per change, in the order Redis applied them. */
  readonly seq: number;
  /** When Redis applied the change (Redis clock), wall ms. */
  readonly at: number;
  /** The node the change is about. */
  readonly node: string;
}

/** A peer's session, as named by events about it. */
export interface SessionRef {
  readonly peerId: string;
  readonly sessionId: string;
  readonly epoch: number;
}

/** Every change of cluster presence, in `seq` order. */
export type ClusterEvent =
  /** A new session is online (`replaced`: the peer's previous session, now superseded, possibly on another node). */
  | (EventBase & { readonly type: 'joined'; readonly peer: ClusterPeer; readonly replaced: { readonly node: string; readonly sessionId: string; readonly epoch: number } | null })
  | (EventBase & SessionRef & { readonly type: 'suspect'; readonly cause: Cause | null; readonly since: number })
  | (EventBase & SessionRef & { readonly type: 'recovered'; readonly cause: null; readonly since: number })
  /** The session ended without an orderly close; `by` names the node that declared a `node-lost`. */
  | (EventBase & SessionRef & { readonly type: 'dead'; readonly cause: Cause | null; readonly by?: string })
  /** The session ended in order (the peer or the node closed it, or the node left). */
  | (EventBase & SessionRef & { readonly type: 'left'; readonly cause: Cause | null })
  /** Fresh RTTs: `[peerId, sessionId, rttMs]`. */
  | (EventBase & { readonly type: 'rtt'; readonly samples: readonly (readonly [string, string, number])[] })
  | (EventBase & { readonly type: 'node-joined'; readonly incarnation: string })
  /** The node's lease expired; `by` found it; its `peers` follow as `dead` with cause `node-lost`. */
  | (EventBase & { readonly type: 'node-lost'; readonly incarnation: string; readonly by: string; readonly peers: number })
  | (EventBase & { readonly type: 'node-left'; readonly incarnation: string });

export type ClusterEventType = ClusterEvent['type'];

/**
 * The node's own standing in the cluster. `active`: it holds its lease and writes
 * presence. `degraded`: it cannot (Redis unreachable, lease lost, name held by another
 * process) and will catch up when it can. `closed`: after `close()`.
 */
export interface ClusterStatus {
  readonly state: 'starting' | 'active' | 'degraded' | 'closed';
  readonly reason: 'redis-unreachable' | 'lease-lost' | 'name-taken' | null;
  /** Monotonic ms (the server's clock) the state began. */
  readonly since: number;
}
