/**
 * @vigil/server: a Vigil server over TCP and WebSocket with one session API,
 * server-driven heartbeats, per-peer liveness, own-stall awareness, and the HTTP API
 * (`/api/peers`, `/api/events`, `/api/health`, `/metrics`).
 */
export { VigilServer } from './vigil-server.js';
export type { VigilServerOptions, ListenOptions, AttachOptions, ServerAddresses, PeerMessage } from './vigil-server.js';
export { Peer } from './peer.js';
export type { PeerInfo } from './peer.js';
export { createHttpApi, serveHttpApi, authorized } from './http-api.js';
export type { HttpApiOptions, HttpApiHandler, HttpApiServer } from './http-api.js';
export { createMetrics } from './metrics.js';
export { LocalHealth, LOCAL_HEALTH_DEFAULTS } from './local-health.js';
export type { LocalHealthOptions, LocalHealthSnapshot } from './local-health.js';
