/**
 * @vigil/dashboard: a live peer-liveness page for a `VigilServer` (peers by state,
 * deaths per minute, event-loop lag, a sortable peer table with RTT sparklines and
 * the kernel's view of each socket, a pausable timeline), streamed over SSE with
 * batched deltas; with a cluster source, every node's peers and the node leases.
 * Plain ESM assets, no build step; binds 127.0.0.1 by default.
 */
export { createDashboardHandler, serveDashboard } from './dashboard.js';
export type { DashboardOptions, DashboardHandler, ServeDashboardOptions, DashboardServer } from './dashboard.js';
export type { DashboardClusterSource, DashboardClusterPeer, DashboardClusterNode } from './cluster-source.js';
export {
  parseProcNetTcp,
  parseProcNetTcpLine,
  parseHostPort,
  normalizeAddress,
  formatIpv6,
  indexSockets,
  findConnection,
  TCP_STATES,
  TCP_TIMERS,
  USER_HZ,
} from './proc-net-tcp.js';
export type { TcpSocketEntry, TcpEndpoint, TcpState, TcpTimer, SocketIndex, SocketMatch, ParseOptions } from './proc-net-tcp.js';
export { STREAM_VERSION } from './internal/live-feed.js';
