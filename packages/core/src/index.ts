/**
 * @vigil/core: the liveness engine. Heartbeat timing and its validation, the RTT
 * estimator, failure detectors, the per-peer state machine on a shared timer wheel,
 * and the transport-agnostic connection. Pure: no `net`, no `ws`; time comes from an
 * injected RxJS scheduler.
 */
export type { PeerState, Cause, PeerStatus, StateChange } from './peer-state.js';
export { isTerminal } from './peer-state.js';
export type { Transport, TransportKind, TransportEnd } from './transport.js';
export { HEARTBEAT_DEFAULTS, resolveHeartbeatConfig, negotiateTiming, clientTiming } from './config.js';
export type { HeartbeatOptions, HeartbeatConfig, PeerTiming } from './config.js';
export { RttEstimator, RTT_HISTORY } from './rtt-estimator.js';
export { Backoff } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { FixedTimeoutDetector, fixedTimeoutDetector } from './failure-detector.js';
export type { FailureDetector, DetectorFactory, Verdict } from './failure-detector.js';
export { TimingWheel, WheelTimer } from './timing-wheel.js';
export type { TickListener } from './timing-wheel.js';
export { monotonicNow, monotonicScheduler } from './clock.js';
export { LivenessEngine } from './liveness-engine.js';
export type { LivenessEngineOptions } from './liveness-engine.js';
export { PeerMonitor, jitteredInterval } from './peer-monitor.js';
export type { MonitorHooks } from './peer-monitor.js';
export { Connection } from './connection.js';
export type { ConnectionHandlers } from './connection.js';
