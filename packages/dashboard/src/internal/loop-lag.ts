/**
 * This process's event-loop delay for the page's health card, from
 * `perf_hooks.monitorEventLoopDelay`, read and reset once per window.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface LagWindow {
  /** Median, 99th percentile and largest delay over the window, ms. */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** Sampling period, ms. The histogram records each period's full length, so this is subtracted. */
const RESOLUTION_MS = 10;

/** Nanoseconds of timer period to ms of delay beyond it, 2 decimals. */
const delayMs = (ns: number): number => Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 100) / 100);

export class LoopLag {
  private histogram: IntervalHistogram | null = null;

  start(): void {
    if (this.histogram !== null) return;
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.histogram.enable();
  }

  stop(): void {
    this.histogram?.disable();
    this.histogram = null;
  }

  /** The window since the last read (zeros before any sample), then starts a new one. */
  read(): LagWindow {
    const h = this.histogram;
    if (h === null || h.count === 0) return { p50: 0, p99: 0, max: 0 };
    const out = { p50: delayMs(h.percentile(50)), p99: delayMs(h.percentile(99)), max: delayMs(h.max) };
    h.reset();
    return out;
  }
}
