/**
 * Round-trip time estimation as TCP does it (RFC 6298 §2): SRTT and RTTVAR with
 * α = 1/8 and β = 1/4, plus the clock offset of the peer from ping/pong timestamps.
 */

const ALPHA = 1 / 8;
const BETA = 1 / 4;
/** Recent raw samples kept for display (sparklines). */
export const RTT_HISTORY = 16;

export class RttEstimator {
  /** Smoothed RTT (ms); NaN before the first sample. */
  srtt = Number.NaN;
  /** RTT variation (ms); NaN before the first sample. */
  rttvar = Number.NaN;
  /** Latest raw sample (ms); NaN before the first sample. */
  last = Number.NaN;
  /** Estimated peer clock minus our clock (ms); NaN before the first sample. */
  offset = Number.NaN;
  /** Samples taken so far. */
  count = 0;
  // A plain array, not a Float64Array: a typed array and its ArrayBuffer cost ~0.3 KB per peer (heap snapshot).
  private history: number[] | null = null;

  /** Adds one RTT sample (ms); negative or non-finite samples are ignored. */
  sample(rtt: number): void {
    if (!(rtt >= 0) || !Number.isFinite(rtt)) return;
    if (this.count === 0) {
      this.srtt = rtt;
      this.rttvar = rtt / 2;
    } else {
      this.rttvar = (1 - BETA) * this.rttvar + BETA * Math.abs(this.srtt - rtt);
      this.srtt = (1 - ALPHA) * this.srtt + ALPHA * rtt;
    }
    const history = (this.history ??= []);
    if (history.length < RTT_HISTORY) history.push(rtt);
    else history[this.count % RTT_HISTORY] = rtt;
    this.last = rtt;
    this.count++;
  }

  /**
   * Adds a sample from a pong: we sent at `sentAt` (our clock), the peer answered at
   * `peerTime` (its clock), we received at `now`. The offset assumes symmetric paths.
   */
  samplePong(sentAt: number, peerTime: number, now: number): void {
    const rtt = now - sentAt;
    if (!(rtt >= 0)) return;
    this.sample(rtt);
    this.offset = peerTime - (sentAt + rtt / 2);
  }

  /** Retransmission-style timeout: SRTT + max(granularity, 4·RTTVAR) (RFC 6298 §2.3), ms. */
  rto(granularityMs = 1): number {
    return this.srtt + Math.max(granularityMs, 4 * this.rttvar);
  }

  /** Recent raw samples, oldest first. */
  samples(): number[] {
    if (this.history === null) return [];
    const n = Math.min(this.count, RTT_HISTORY);
    const out: number[] = [];
    for (let i = this.count - n; i < this.count; i++) out.push(this.history[i % RTT_HISTORY]!);
    return out;
  }
}
