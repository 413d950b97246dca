/**
 * What the dashboard needs from a cluster to show every node's peers (with a node
 * column) and the node list with lease ages. Structural types only: `@vigil/cluster`'s
 * `Cluster` satisfies `DashboardClusterSource` as it is, and the dashboard never
 * imports the cluster package (the CLI wires one into the other).
 */
import type { TransportKind } from '@vigil/core';

/** One online peer of some node, as the cluster's replica holds it. Times are wall-clock ms. */
export interface DashboardClusterPeer {
  readonly id: string;
  /** The node holding the peer's connection. */
  readonly node: string;
  readonly sessionId: string;
  readonly state: 'alive' | 'suspect';
  /** Why the peer is suspect; null while alive. */
  readonly cause: string | null;
  readonly transport: TransportKind;
  readonly remote: string;
  /** When the session started, wall ms. */
  readonly connectedAt: number;
  /** When the current state began, wall ms. */
  readonly since: number;
  /** Smoothed RTT as last flushed by its node, ms; null before the first pong. */
  readonly rttMs: number | null;
}

/** One node of the cluster and its lease. */
export interface DashboardClusterNode {
  readonly node: string;
  readonly host: string;
  readonly pid: number;
  /** The lease's time to live, ms. */
  readonly leaseTtlMs: number;
  /** Ms since the node last renewed its lease. */
  readonly leaseAgeMs: number;
  /** Ms until the lease expires; 0 once expired. */
  readonly leaseLeftMs: number;
  /** `live` while the lease holds; `expired` until a node notices; `lost` while its peers are being removed. */
  readonly state: 'live' | 'expired' | 'lost';
  /** Peers the node holds. */
  readonly peers: number;
}

/** A cluster as the dashboard reads it: `@vigil/cluster`'s `Cluster` is one. */
export interface DashboardClusterSource {
  /** This node's name: its own peers come from the server, with their full detail. */
  readonly node: string;
  /** This node's standing in the cluster (`active`, `degraded` with a reason, ...). */
  readonly status: { readonly state: string; readonly reason: string | null };
  /** Every node's online peers, from a local replica: synchronous, no I/O. */
  view(): readonly DashboardClusterPeer[];
  /** Every node with its lease; read from the shared store, so it may reject while that is unreachable. */
  nodes(): Promise<readonly DashboardClusterNode[]>;
}
