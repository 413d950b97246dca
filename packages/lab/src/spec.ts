/**
 * What the lab runs: the failure modes, the detectors (each on its own connection),
 * the timings, and the two profiles (`quick` for CI, `full` for the reference run).
 * Pure data; the orchestrator and both child processes read the same definitions.
 */
import type { KernelSocketOptions } from '@vigil/transport';

export const MODE_IDS = ['killed', 'frozen-idle', 'frozen-writing', 'blackhole-idle', 'blackhole-data', 'link-down', 'reboot-quiet', 'reboot-sending'] as const;
export type ModeId = (typeof MODE_IDS)[number];

/** What the observer writes to the peer around the failure. */
export type WriteStyle = 'none' | 'trickle' | 'flood' | 'trickle-after-reboot';

export interface ModeSpec {
  readonly id: ModeId;
  /** One line for tables and progress. */
  readonly label: string;
  readonly write: WriteStyle;
}

export const MODES: Readonly<Record<ModeId, ModeSpec>> = {
  killed: { id: 'killed', label: 'peer killed (SIGKILL)', write: 'none' },
  'frozen-idle': { id: 'frozen-idle', label: 'peer frozen (SIGSTOP), connection idle', write: 'none' },
  'frozen-writing': { id: 'frozen-writing', label: 'peer frozen while we keep writing (window fills)', write: 'flood' },
  'blackhole-idle': { id: 'blackhole-idle', label: 'blackhole (nftables drop), idle', write: 'none' },
  'blackhole-data': { id: 'blackhole-data', label: 'blackhole with our data in flight', write: 'trickle' },
  'link-down': { id: 'link-down', label: "peer's link down", write: 'none' },
  'reboot-quiet': { id: 'reboot-quiet', label: 'peer rebooted (same address), we stay quiet', write: 'none' },
  'reboot-sending': { id: 'reboot-sending', label: 'peer rebooted (same address), we send afterwards', write: 'trickle-after-reboot' },
};

/** A detector that is only the kernel: a bare TCP connection with socket options. */
export interface KernelDetectorSpec {
  readonly kind: 'kernel';
  readonly id: string;
  readonly label: string;
  /** Set through `applyKernelOptions` (FFI). */
  readonly kernel?: KernelSocketOptions;
  /** Set through Node's own `socket.setKeepAlive(true, ms)` instead. */
  readonly nodeKeepAliveMs?: number;
}

/** A Vigil application heartbeat (its own server and client, no kernel options). */
export interface VigilDetectorSpec {
  readonly kind: 'vigil';
  readonly id: string;
  readonly label: string;
  /** The failure detector: `fixed` is core's FixedTimeoutDetector; `adaptive` whatever core exports as such. */
  readonly detector: 'fixed' | 'adaptive';
}

export type DetectorSpec = KernelDetectorSpec | VigilDetectorSpec;

/** Every timing the lab uses, ms unless named otherwise. */
export interface LabTimings {
  readonly vigil: { readonly intervalMs: number; readonly timeoutMs: number; readonly jitter: number; readonly tickMs: number };
  /** Tuned keepalive set through the FFI. */
  readonly keepalive: { readonly idleMs: number; readonly intervalMs: number; readonly count: number };
  /** Delay passed to Node's `setKeepAlive` (libuv then sets interval 1 s, count 10). */
  readonly nodeKeepAliveMs: number;
  readonly userTimeoutMs: number;
  /** Period of the observer's small writes in `trickle` modes. */
  readonly trickleMs: number;
  /** How long after the failure a detector may take before it counts as a miss. */
  readonly capMs: number;
}

export interface Profile {
  readonly name: 'quick' | 'full';
  readonly modes: readonly ModeId[];
  readonly detectors: readonly DetectorSpec[];
  readonly runs: number;
  readonly timings: LabTimings;
}

const TIMINGS: Omit<LabTimings, 'capMs'> = {
  vigil: { intervalMs: 500, timeoutMs: 2000, jitter: 0.1, tickMs: 50 },
  keepalive: { idleMs: 2000, intervalMs: 1000, count: 3 },
  nodeKeepAliveMs: 2000,
  userTimeoutMs: 3000,
  trickleMs: 250,
};

/** The detectors for the given timings, by id. */
export function detectors(t: Omit<LabTimings, 'capMs'>): Readonly<Record<string, DetectorSpec>> {
  const ka = t.keepalive;
  const s = (ms: number): string => `${ms / 1000}s`;
  return {
    'ka-tuned': { kind: 'kernel', id: 'ka-tuned', label: `keepalive ${s(ka.idleMs)}/${s(ka.intervalMs)}/${ka.count} (FFI)`, kernel: { keepalive: ka } },
    'ka-node': { kind: 'kernel', id: 'ka-node', label: `setKeepAlive(true, ${t.nodeKeepAliveMs})`, nodeKeepAliveMs: t.nodeKeepAliveMs },
    'ka-system': { kind: 'kernel', id: 'ka-system', label: 'keepalive, system defaults', kernel: { keepalive: {} } },
    'ut-only': { kind: 'kernel', id: 'ut-only', label: `TCP_USER_TIMEOUT ${s(t.userTimeoutMs)} alone`, kernel: { userTimeoutMs: t.userTimeoutMs } },
    'ka+ut': {
      kind: 'kernel',
      id: 'ka+ut',
      label: `keepalive ${s(ka.idleMs)}/${s(ka.intervalMs)}/${ka.count} + user timeout ${s(t.userTimeoutMs)}`,
      kernel: { keepalive: ka, userTimeoutMs: t.userTimeoutMs },
    },
    'vigil-fixed': { kind: 'vigil', id: 'vigil-fixed', label: `Vigil fixed ${t.vigil.intervalMs}/${t.vigil.timeoutMs} ms`, detector: 'fixed' },
    'vigil-adaptive': { kind: 'vigil', id: 'vigil-adaptive', label: `Vigil phi accrual ${t.vigil.intervalMs} ms, cap ${t.vigil.timeoutMs} ms`, detector: 'adaptive' },
  };
}

/**
 * `quick`: the CI subset, three modes against tuned keepalive, keepalive + user timeout
 * and Vigil; the cap (8 s) clears the slowest expected detection (keepalive, 5 s) plus
 * its tolerance. `full`: every mode and detector; 30 s clears `setKeepAlive` (12 s).
 */
export function profile(name: 'quick' | 'full', options: { runs?: number; adaptive?: boolean } = {}): Profile {
  const all = detectors(TIMINGS);
  const pick = (ids: string[]): DetectorSpec[] => ids.map((id) => all[id]!);
  if (name === 'quick') {
    return {
      name,
      modes: ['frozen-idle', 'blackhole-idle', 'blackhole-data'],
      detectors: pick(['ka-tuned', 'ka+ut', 'vigil-fixed']),
      runs: options.runs ?? 3,
      timings: { ...TIMINGS, capMs: 8000 },
    };
  }
  const ids = ['ka-tuned', 'ka-node', 'ka-system', 'ut-only', 'ka+ut', 'vigil-fixed'];
  if (options.adaptive === true) ids.push('vigil-adaptive');
  return { name, modes: [...MODE_IDS], detectors: pick(ids), runs: options.runs ?? 3, timings: { ...TIMINGS, capMs: 30_000 } };
}
