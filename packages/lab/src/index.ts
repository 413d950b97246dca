/**
 * @vigil/lab: the failure lab. Measures, under real failures injected in network
 * namespaces, when kernel keepalive, TCP_USER_TIMEOUT and Vigil's heartbeat each
 * detect a dead peer, against the windows their rules predict.
 */
export { main, USAGE } from './main.js';
export type { LabExitCode } from './main.js';
export { Lab } from './lab.js';
export type { LabOptions } from './lab.js';
export { MODES, MODE_IDS, detectors, profile } from './spec.js';
export type { DetectorSpec, KernelDetectorSpec, VigilDetectorSpec, LabTimings, ModeId, ModeSpec, Profile, WriteStyle } from './spec.js';
export { expected, effectiveKernel, judge, retries2TimeoutMs, toleranceMs, describeExpected } from './expectations.js';
export type { Expected, KernelFacts, Outcome, EffectiveKernel } from './expectations.js';
export type { LabReport, RunRecord, DetectorRun, Cell } from './results.js';
export { APT_PACKAGES, LabError } from './netns.js';
