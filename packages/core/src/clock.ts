/**
 * The default scheduler: RxJS's async scheduler for timers, with a monotonic clock
 * (`performance.timeOrigin + performance.now()`) so a wall-clock step cannot make
 * every peer look silent at once. Tests inject a virtual-time scheduler instead.
 */
import { asyncScheduler, type SchedulerLike } from 'rxjs';

const origin = performance.timeOrigin;

/** Monotonic ms, close to Unix-epoch ms at process start. */
export function monotonicNow(): number {
  return origin + performance.now();
}

export const monotonicScheduler: SchedulerLike = {
  now: monotonicNow,
  schedule: asyncScheduler.schedule.bind(asyncScheduler),
};
