/**
 * The expected time to detect each failure, from the kernel's and Vigil's rules
 * (Linux `tcp_keepalive_timer`, `tcp_write_timeout`, `tcp_probe_timer`, and core's
 * fixed-timeout detector), and the judgement of a measured outcome against it. All
 * times are ms after the failure. Pure; the formulas are spelled out in each `formula`.
 */
import type { Cause } from '@vigil/core';
import type { DetectorSpec, LabTimings, ModeId } from './spec.js';

/** Kernel settings of the lab's network namespace that the formulas need. */
export interface KernelFacts {
  /** sysctl net.ipv4.tcp_keepalive_time, _intvl (s) and _probes. */
  readonly keepaliveTimeS: number;
  readonly keepaliveIntvlS: number;
  readonly keepaliveProbes: number;
  /** sysctl net.ipv4.tcp_retries2. */
  readonly retries2: number;
}

/** TCP_RTO_MIN and TCP_RTO_MAX (`include/net/tcp.h`), ms. */
export const RTO_MIN_MS = 200;
export const RTO_MAX_MS = 120_000;

export type Expected =
  | { readonly kind: 'window'; readonly loMs: number; readonly hiMs: number; readonly causes: readonly Cause[]; readonly formula: string }
  | { readonly kind: 'never'; readonly formula: string }
  /** No formula (an adaptive detector): it must detect within the cap, nothing more is checked. */
  | { readonly kind: 'detect'; readonly causes: readonly Cause[]; readonly formula: string };

/** A detector's effective kernel settings; keepalive null when off, user timeout 0 when unset. */
export interface EffectiveKernel {
  readonly keepalive: { readonly idleMs: number; readonly intervalMs: number; readonly count: number } | null;
  readonly userTimeoutMs: number;
}

/** What the kernel will run with for a kernel detector, from its spec and the namespace defaults. */
export function effectiveKernel(detector: DetectorSpec, facts: KernelFacts): EffectiveKernel | null {
  if (detector.kind !== 'kernel') return null;
  if (detector.nodeKeepAliveMs !== undefined) {
    // libuv: KEEPIDLE = floor(ms / 1000) s (nothing under a second), KEEPINTVL 1 s, KEEPCNT 10.
    const idleS = Math.floor(detector.nodeKeepAliveMs / 1000);
    return { keepalive: { idleMs: (idleS >= 1 ? idleS : facts.keepaliveTimeS) * 1000, intervalMs: 1000, count: 10 }, userTimeoutMs: 0 };
  }
  const ka = detector.kernel?.keepalive;
  return {
    keepalive:
      ka === undefined
        ? null
        : {
            idleMs: ka.idleMs ?? facts.keepaliveTimeS * 1000,
            intervalMs: ka.intervalMs ?? facts.keepaliveIntvlS * 1000,
            count: ka.count ?? facts.keepaliveProbes,
          },
    userTimeoutMs: detector.kernel?.userTimeoutMs ?? 0,
  };
}

/** `tcp_model_timeout`: how long tcp_retries2 retransmissions last from RTO_MIN with exponential backoff. */
export function retries2TimeoutMs(retries2: number): number {
  const thresh = Math.floor(Math.log2(RTO_MAX_MS / RTO_MIN_MS));
  return retries2 <= thresh ? ((2 << retries2) - 1) * RTO_MIN_MS : ((2 << thresh) - 1) * RTO_MIN_MS + (retries2 - thresh) * RTO_MAX_MS;
}

const sec = (ms: number): string => `${Math.round(ms) / 1000} s`;

/**
 * Keepalive abort after an idle blackhole: the last ACK came at most `idle` before the
 * failure, the first probe goes `idle` after it, then one every `intvl`. Without a
 * user timeout the kernel aborts after `cnt` unanswered probes: between cnt·intvl and
 * max(idle, intvl) + cnt·intvl. With one, it aborts at the first timer run where the
 * silence reached the user timeout and a probe is out (count ignored): n·intvl after
 * the first probe, n = max(1, ⌈(UT − idle) / intvl⌉).
 */
function keepaliveWindow(k: EffectiveKernel): Expected {
  const ka = k.keepalive!;
  if (k.userTimeoutMs === 0) {
    return {
      kind: 'window',
      loMs: ka.count * ka.intervalMs,
      hiMs: Math.max(ka.idleMs, ka.intervalMs) + ka.count * ka.intervalMs,
      causes: ['kernel-keepalive'],
      formula: 'cnt·intvl … max(idle,intvl)+cnt·intvl',
    };
  }
  const n = Math.max(1, Math.ceil((k.userTimeoutMs - ka.idleMs) / ka.intervalMs));
  return {
    kind: 'window',
    loMs: n * ka.intervalMs,
    hiMs: ka.idleMs + n * ka.intervalMs,
    causes: ['kernel-user-timeout'],
    formula: `n·intvl … idle+n·intvl, n=max(1,⌈(UT−idle)/intvl⌉)=${n}`,
  };
}

/** Inputs known only during a run. */
export interface RunContext {
  /** Reboot modes: ms from the failure until the peer's namespace was back. */
  readonly rebuildMs?: number;
}

/**
 * The expected outcome for one (mode, detector) on the observer's side.
 * `ctx.rebuildMs` widens the reboot windows by the measured rebuild time.
 */
export function expected(mode: ModeId, detector: DetectorSpec, t: LabTimings, facts: KernelFacts, ctx: RunContext = {}): Expected {
  const v = t.vigil;
  const rebuild = ctx.rebuildMs ?? 0;
  if (detector.kind === 'vigil') {
    const causes: Cause[] = ['heartbeat-timeout'];
    if (mode === 'killed') return { kind: 'window', loMs: 0, hiMs: 100, causes: ['closed-by-peer', 'reset'], formula: 'FIN or RST at once' };
    if (mode === 'reboot-quiet' || mode === 'reboot-sending') {
      return {
        kind: 'window',
        loMs: 0,
        hiMs: Math.min(v.timeoutMs, rebuild + v.intervalMs * (1 + v.jitter)) + v.tickMs,
        causes: ['reset', 'heartbeat-timeout'],
        formula: 'RST to the next ping after the rebuild: rebuild+interval·(1+jitter)+tick',
      };
    }
    if (detector.detector === 'adaptive') {
      // Phi accrual learns its threshold from the pongs; the monitor's hard cap still bounds it.
      return { kind: 'window', loMs: 0, hiMs: v.timeoutMs + v.tickMs, causes, formula: 'learned threshold, at most the hard cap: timeout+tick' };
    }
    // Dead at lastSeen + timeout; the last pong came at most one jittered interval (plus a tick) before the failure.
    return {
      kind: 'window',
      loMs: v.timeoutMs - v.intervalMs * (1 + v.jitter) - v.tickMs,
      hiMs: v.timeoutMs + v.tickMs,
      causes,
      formula: 'timeout−interval·(1+jitter)−tick … timeout+tick',
    };
  }
  const k = effectiveKernel(detector, facts)!;
  const ut = k.userTimeoutMs;
  switch (mode) {
    case 'killed':
      return { kind: 'window', loMs: 0, hiMs: 100, causes: ['closed-by-peer', 'reset'], formula: 'FIN (or RST) from the dead process at once' };
    case 'frozen-idle':
      return { kind: 'never', formula: "the frozen peer's kernel answers every probe" };
    case 'frozen-writing':
      if (ut === 0) return { kind: 'never', formula: 'zero-window probes are answered; keepalive waits while data is queued' };
      // Since Linux 5.11 the user timeout bounds a window that stays shut (icsk_probes_tstamp):
      // UT after the first zero-window probe, itself an RTO (≥ 200 ms) after the window closed.
      return { kind: 'window', loMs: ut, hiMs: ut + 1000, causes: ['kernel-user-timeout'], formula: 'UT … UT+1 s (window fill + first zero-window probe)' };
    case 'blackhole-idle':
    case 'link-down':
      if (k.keepalive === null) return { kind: 'never', formula: 'nothing is sent on an idle socket without keepalive' };
      return keepaliveWindow(k);
    case 'blackhole-data': {
      if (ut > 0) {
        // The user timeout counts from the first RTO retransmission (retrans_stamp is set in
        // tcp_retransmit_skb), which follows the first lost write by a tail-loss probe
        // (≈ 200 ms with one segment in flight) and one RTO (≥ 200 ms).
        return {
          kind: 'window',
          loMs: ut + 2 * RTO_MIN_MS,
          hiMs: ut + 2 * RTO_MIN_MS + t.trickleMs,
          causes: ['kernel-user-timeout'],
          formula: 'UT from the first retransmission: TLP + RTO + UT … + write period',
        };
      }
      const r2 = retries2TimeoutMs(facts.retries2);
      return {
        kind: 'window',
        loMs: r2,
        hiMs: r2 + RTO_MAX_MS,
        causes: ['kernel-keepalive', 'kernel-user-timeout'],
        formula: `tcp_retries2=${facts.retries2} from RTO_MIN: ${sec(r2)} (keepalive never probes while data is in flight)`,
      };
    }
    case 'reboot-quiet':
      if (k.keepalive === null) return { kind: 'never', formula: 'nothing is sent on an idle socket without keepalive' };
      return {
        kind: 'window',
        loMs: 0,
        hiMs: Math.max(k.keepalive.idleMs, rebuild + k.keepalive.intervalMs),
        causes: ['reset'],
        formula: 'RST to the first probe after the rebuild: max(idle, rebuild+intvl)',
      };
    case 'reboot-sending':
      return { kind: 'window', loMs: 0, hiMs: rebuild + t.trickleMs, causes: ['reset'], formula: 'RST to our first write after the rebuild' };
  }
}

/**
 * Slack allowed around a window. Kernel timers are never early but may fire late by up
 * to 1/8 of their delay (the timer wheel's granularity per level, kernel/time/timer.c);
 * 100 ms more covers the gap between the failure taking effect and its timestamp (an
 * `nft` or `kill` call), and event-loop latency in the observer.
 */
export function toleranceMs(hiMs: number): number {
  return 100 + Math.ceil(hiMs / 8);
}

/** What a detector reported on the observer's side in one run. */
export interface Outcome {
  /** Ms after the failure; null when nothing happened within the cap. */
  readonly detectedMs: number | null;
  readonly cause: Cause | null;
  /** The socket error code, if any (ETIMEDOUT, ECONNRESET, EHOSTUNREACH). */
  readonly error: string | null;
}

/** Null when the outcome agrees with the expectation; otherwise why it does not. */
export function judge(e: Expected, o: Outcome, capMs: number): string | null {
  const at = o.detectedMs;
  switch (e.kind) {
    case 'never':
      return at === null ? null : `detected at ${sec(at)} (${o.cause ?? '?'}) where no detection is expected: ${e.formula}`;
    case 'detect':
      if (at === null) return `not detected within the cap (${sec(capMs)})`;
      return e.causes.includes(o.cause!) ? null : `cause ${o.cause ?? '?'}, expected ${e.causes.join(' or ')}`;
    case 'window': {
      const tol = toleranceMs(e.hiMs);
      if (at === null) return e.hiMs + tol >= capMs ? null : `not detected within the cap (${sec(capMs)}); expected ${sec(e.loMs)}–${sec(e.hiMs)}`;
      if (at < e.loMs - 100 || at > e.hiMs + tol) {
        return `detected at ${sec(at)}, outside ${sec(e.loMs)}–${sec(e.hiMs)} (tolerance −0.1 s/+${sec(tol)}): ${e.formula}`;
      }
      return e.causes.includes(o.cause!) ? null : `cause ${o.cause ?? '?'}, expected ${e.causes.join(' or ')}`;
    }
  }
}

/** How the expectation reads in a table cell. */
export function describeExpected(e: Expected, capMs: number): string {
  switch (e.kind) {
    case 'never':
      return 'never';
    case 'detect':
      return `detect ≤ ${sec(capMs)}`;
    case 'window':
      if (e.loMs >= capMs) return `${sec(e.loMs)}–${sec(e.hiMs)} (beyond cap)`;
      if (e.hiMs > capMs) return `${sec(e.loMs)}–${sec(e.hiMs)} (past the cap)`;
      return `${sec(e.loMs)}–${sec(e.hiMs)}`;
  }
}
