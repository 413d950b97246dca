/**
 * @vigil/cluster: cluster-wide presence on Redis. `attachCluster(server, options)` joins
 * a `VigilServer` to a cluster: one answer to "is this peer online, and where?" across
 * nodes, `node-lost` deaths when a node's lease expires, routed send and broadcast.
 * docs/cluster.md describes the data model, the lease, and every failure case.
 */
export { Cluster, attachCluster, resolveClusterConfig, CLUSTER_DEFAULTS } from './cluster.js';
export type { ClusterOptions, ClusterConfig } from './cluster.js';
export { createClusterHttpApi } from './http-api.js';
export type { ClusterPeer, ClusterNode, ClusterEvent, ClusterEventType, ClusterStatus, SessionRef } from './types.js';
