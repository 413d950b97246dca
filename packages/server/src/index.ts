/**
 * @vigil/server: a Vigil server over TCP and WebSocket (plain or TLS) with one session
 * API, server-driven heartbeats, per-peer liveness, own-stall awareness, session resume,
 * limits, authentication, graceful drain, and the HTTP API
 * (`/api/peers`, `/api/events`, `/api/health`, `/metrics`).
 */
export { VigilServer } from './vigil-server.js';
export type { VigilServerOptions, ListenOptions, AttachOptions, ServerAddresses, PeerMessage } from './vigil-server.js';
export type { PeerVisibility } from './vigil-server.js';
export { Peer } from './peer.js';
export type { PeerInfo } from './peer.js';
export { createHttpApi, serveHttpApi, authorized, getRoutes, sendJson } from './http-api.js';
export type { HttpApiOptions, HttpApiHandler, HttpApiServer } from './http-api.js';
export { createMetrics } from './metrics.js';
export { LocalHealth, LOCAL_HEALTH_DEFAULTS } from './local-health.js';
export { LIMIT_DEFAULTS, ConnectionRateLimiter, PingStrikes } from './limits.js';
export type { ConnectionRateOptions, RefusalReason } from './limits.js';
export { AUTH_DEFAULTS } from './authenticate.js';
export type { Authenticate, AuthResult, AuthInfo, AuthRejectCode } from './authenticate.js';
export { DRAIN_DEFAULTS, spreadDelays } from './drain.js';
export type { DrainOptions } from './drain.js';
export { RESUME_DEFAULTS } from './resume.js';
export type { ResumeOptions } from './resume.js';
export type { LocalHealthOptions, LocalHealthSnapshot } from './local-health.js';
export { ClusterPrimary, WORKERS_DEFAULTS, createClusterHttpApi, runClusterWorker, serveClusterHttpApi, workerIndex } from './workers.js';
export type { ClusterPrimaryOptions, WorkerStats, WorkerStateChange } from './workers.js';
