/**
 * Percentiles for the figures the example reports (tick time, RTT): a bounded sample
 * (the newest `capacity` values) and nearest-rank percentiles over it.
 */
export class Sample {
  private readonly values: number[] = [];
  private next = 0;
  /** Values recorded, including those the bound dropped. */
  count = 0;
  max = 0;

  constructor(private readonly capacity = 100_000) {}

  add(v: number): void {
    this.count++;
    if (v > this.max) this.max = v;
    if (this.values.length < this.capacity) this.values.push(v);
    else {
      this.values[this.next] = v;
      this.next = (this.next + 1) % this.capacity;
    }
  }

  /** Forgets every value (e.g. after a warm-up). */
  reset(): void {
    this.values.length = 0;
    this.next = 0;
    this.count = 0;
    this.max = 0;
  }

  /** Nearest-rank percentiles (`ps` in 0..100) of the values held; NaN when empty. */
  percentiles(...ps: number[]): number[] {
    return percentiles(this.values, ...ps);
  }
}

/** Nearest-rank percentiles of `values` (`ps` in 0..100); NaN when empty. */
export function percentiles(values: readonly number[], ...ps: number[]): number[] {
  if (values.length === 0) return ps.map(() => Number.NaN);
  const sorted = [...values].sort((a, b) => a - b);
  return ps.map((p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!);
}
