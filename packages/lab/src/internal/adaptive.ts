/**
 * Finds core's adaptive failure detector by name, so the lab builds whether or not it
 * exists: `phiAccrualDetector(options)` (a factory of `DetectorFactory`) or a plain
 * `adaptiveDetector` factory. Null when core exports neither; the lab then skips
 * `vigil-adaptive` and says so.
 */
import * as core from '@vigil/core';
import type { DetectorFactory } from '@vigil/core';

export function adaptiveFactory(): DetectorFactory | null {
  const exports = core as unknown as Record<string, unknown>;
  const phi = exports['phiAccrualDetector'];
  if (typeof phi === 'function') return (phi as (options: object) => DetectorFactory)({});
  const plain = exports['adaptiveDetector'];
  return typeof plain === 'function' ? (plain as DetectorFactory) : null;
}
