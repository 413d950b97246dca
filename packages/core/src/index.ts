/**
 * @vigil/core: the liveness engine. Heartbeat timing and its validation, the RTT
 * estimator, failure detectors (fixed timeout, phi accrual), own-stall awareness, the
 * per-peer state machine on a shared timer wheel,
 * and the transport-agnostic connection. Pure: no `net`, no `ws`; time comes from an
 * injected RxJS scheduler.
 */
export type { PeerState, Cause, PeerStatus, StateChange, SessionState, SessionChange } from './peer-state.js';
export { isTerminal } from './peer-state.js';
export type { Transport, TransportKind, TransportEnd } from './transport.js';
export { HEARTBEAT_DEFAULTS, resolveHeartbeatConfig, negotiateTiming, clientTiming } from './config.js';
export type { HeartbeatOptions, HeartbeatConfig, PeerTiming } from './config.js';
export { RttEstimator, RTT_HISTORY } from './rtt-estimator.js';
export { Backoff } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { seededRandom } from './seeded-random.js';
export { FixedTimeoutDetector, fixedTimeoutDetector, selectDetector } from './failure-detector.js';
export type { FailureDetector, DetectorFactory, DetectorChoice, Verdict } from './failure-detector.js';
export { PHI_DEFAULTS, PhiAccrualDetector, phiAccrualDetector, phi, phiInverse, resolvePhiParameters } from './phi-accrual-detector.js';
export type { PhiAccrualOptions, PhiAccrualParameters } from './phi-accrual-detector.js';
export { STALL_DEFAULTS, StallGuard } from './stall-guard.js';
export type { Stall, StallSource, StallGuardOptions, StallListener } from './stall-guard.js';
export { TimingWheel, WheelTimer } from './timing-wheel.js';
export type { TickListener } from './timing-wheel.js';
export { monotonicNow, monotonicScheduler } from './clock.js';
export { LivenessEngine } from './liveness-engine.js';
export type { LivenessEngineOptions } from './liveness-engine.js';
export { BACKGROUND_DEFAULTS, backgroundTimeout, resolveHiddenTimeout } from './background.js';
export { PeerMonitor, jitteredInterval } from './peer-monitor.js';
export type { MonitorHooks } from './peer-monitor.js';
export { Connection, DEFAULT_MAX_SEND_BUFFER_BYTES } from './connection.js';
export type { ConnectionHandlers, ConnectionOptions } from './connection.js';
export { REPLAY_DEFAULTS, ReplayBuffer, resolveReplayLimits } from './replay-buffer.js';
export type { ReplayOptions, ReplayLimits } from './replay-buffer.js';
export { ACK_DEFAULTS, SessionStream } from './session-stream.js';
