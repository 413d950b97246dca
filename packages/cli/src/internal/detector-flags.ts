/**
 * The failure-detector flags (`--detector fixed|phi`, `--phi-suspect`, `--phi-dead`,
 * `--phi-pause`) for any command that watches a peer: their specs for `parseCommandLine`
 * and their parsing, validated by building the detector once so a bad combination is
 * refused at the command line, naming the flag.
 */
import { selectDetector, type PhiAccrualOptions } from '@vigil/core';
import { ConfigError } from '@vigil/protocol';
import { UsageError, parseMs } from './args.js';

/** Flag specs, to spread into a command's own. */
export const DETECTOR_FLAGS = {
  detector: { type: 'string' },
  'phi-suspect': { type: 'string' },
  'phi-dead': { type: 'string' },
  'phi-pause': { type: 'string' },
} as const;

/** Their lines in a command's usage text. */
export const DETECTOR_USAGE = `  --detector NAME    failure detector: fixed or phi (default fixed)
  --phi-suspect PHI  phi at which the peer turns suspect, with --detector phi (default 3)
  --phi-dead PHI     phi at which the peer is dead, above --phi-suspect (default 8)
  --phi-pause MS     acceptable heartbeat pause before death (default 1.25 x interval)`;

/** The detector flags as given; absent when not given. */
export interface DetectorFlags {
  readonly detector?: 'fixed' | 'phi';
  readonly phi?: PhiAccrualOptions;
}

/** The flag naming each phi config field a `ConfigError` can blame. */
const FLAG_OF_PHI_FIELD: Readonly<Record<string, string>> = {
  'phi.suspectThreshold': '--phi-suspect',
  'phi.deadThreshold': '--phi-dead',
  'phi.acceptableHeartbeatPauseMs': '--phi-pause',
  'phi.suspectHeartbeatPauseMs': '--phi-pause',
};

function parsePhi(command: string, flag: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value <= 0) throw new UsageError(command, flag, `${flag} must be a positive number, got "${raw}"`);
  return value;
}

/**
 * Parses the detector flags of `command`; only what was given is returned.
 * @throws UsageError naming the flag (exit code 2).
 */
export function parseDetectorFlags(
  command: string,
  flags: { detector?: string | undefined; 'phi-suspect'?: string | undefined; 'phi-dead'?: string | undefined; 'phi-pause'?: string | undefined },
): DetectorFlags {
  const detector = flags.detector;
  if (detector !== undefined && detector !== 'fixed' && detector !== 'phi') throw new UsageError(command, '--detector', `--detector must be fixed or phi, got "${detector}"`);
  const phi: { suspectThreshold?: number; deadThreshold?: number; acceptableHeartbeatPauseMs?: number } = {};
  if (flags['phi-suspect'] !== undefined) phi.suspectThreshold = parsePhi(command, '--phi-suspect', flags['phi-suspect']);
  if (flags['phi-dead'] !== undefined) phi.deadThreshold = parsePhi(command, '--phi-dead', flags['phi-dead']);
  if (flags['phi-pause'] !== undefined) phi.acceptableHeartbeatPauseMs = parseMs(command, '--phi-pause', flags['phi-pause']);
  const given = Object.keys(phi).length > 0;
  if (detector !== 'phi' && given) throw new UsageError(command, '--detector', '--phi-* flags need --detector phi');
  try {
    selectDetector(detector, given ? phi : undefined)({ intervalMs: 1000, suspectAfterMs: 1500, timeoutMs: 3000, jitter: 0.1 }, 0);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(command, FLAG_OF_PHI_FIELD[error.field] ?? '--detector', error.message);
    throw error;
  }
  return { ...(detector !== undefined ? { detector } : {}), ...(given ? { phi } : {}) };
}
