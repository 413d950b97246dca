/**
 * The kernel's view of the lab's connections: `ss -tnoiHO` parsed into one sample per
 * socket (state, queues, the armed timer and its count, RTO and backoff), and a short
 * summary of what the kernel was doing before a detector fired. Parsing is pure.
 */

/** One socket in one `ss` snapshot. */
export interface SocketSample {
  readonly state: string;
  readonly localPort: number;
  readonly peer: string;
  readonly recvQ: number;
  readonly sendQ: number;
  /** `on` (retransmit), `keepalive`, `persist` (zero-window probe), `timewait`; null when none is armed. */
  readonly timer: string | null;
  /** Ms until the timer fires. */
  readonly timerMs: number | null;
  /** Retransmissions for `on`, unanswered probes for `keepalive` and `persist`. */
  readonly timerCount: number | null;
  readonly rtoMs: number | null;
  readonly backoff: number | null;
  readonly unacked: number | null;
}

/**
 * Parses ss's timer text (`print_ms_timer` in ss.c): `[Nmin][S(sec|.)][MMMms]`, so
 * `1.234ms` is 1.234 s, `999ms`, `2sec`, `1min30sec`, `120min`; empty means 0.
 */
export function parseSsTimer(text: string): number | null {
  const m = /^(?:(\d+)min)?(?:(\d+)(sec|\.))?(?:(\d+)ms)?$/.exec(text);
  if (m === null) return null;
  const [, min, s, sep, ms] = m;
  if (sep === '.' && ms === undefined) return null;
  return Number(min ?? 0) * 60_000 + Number(s ?? 0) * 1000 + Number(ms ?? 0);
}

function num(line: string, re: RegExp): number | null {
  const m = re.exec(line);
  return m ? Number(m[1]) : null;
}

/** Parses `ss -tnoiHO` output (one socket per line). Lines it cannot read are skipped. */
export function parseSs(output: string): SocketSample[] {
  const out: SocketSample[] = [];
  for (const line of output.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    const [state, recvQ, sendQ, local, peer] = f as [string, string, string, string, string];
    const port = Number(local.slice(local.lastIndexOf(':') + 1));
    if (!Number.isInteger(port) || !/^\d+$/.test(recvQ)) continue;
    const t = /timer:\((\w+),([^,]*),(\d+)\)/.exec(line);
    out.push({
      state,
      localPort: port,
      peer,
      recvQ: Number(recvQ),
      sendQ: Number(sendQ),
      timer: t ? t[1]! : null,
      timerMs: t ? parseSsTimer(t[2]!) : null,
      timerCount: t ? Number(t[3]) : null,
      rtoMs: num(line, /\brto:(\d+(?:\.\d+)?)/),
      backoff: num(line, /\bbackoff:(\d+)/),
      unacked: num(line, /\bunacked:(\d+)/),
    });
  }
  return out;
}

/** A sample tagged with the detector and time (ms after the failure; negative before it). */
export interface ViewSample extends SocketSample {
  readonly detector: string;
  readonly atMs: number;
}

/**
 * One phrase for what the kernel was doing on a connection when the detector fired
 * (or at the last sample, up to `untilMs`): the timer armed last and its highest count
 * in that streak, e.g. `keepalive ×3` (unanswered probes), `persist ×1` (zero-window
 * probes) or `on ×7 (rto 26.112 s)` (retransmissions). `no timer` when none was armed
 * after the failure, `—` without samples.
 */
export function summarizeView(samples: readonly ViewSample[], untilMs: number | null = null): string {
  const window = samples.filter((s) => s.atMs >= 0 && (untilMs === null || s.atMs <= untilMs));
  const timed = window.filter((s) => s.timer !== null);
  const last = timed.at(-1);
  if (last === undefined) return window.length > 0 ? 'no timer' : '—';
  let count = 0;
  for (let i = timed.length - 1; i >= 0 && timed[i]!.timer === last.timer; i--) count = Math.max(count, timed[i]!.timerCount ?? 0);
  const rto = last.rtoMs;
  const suffix = last.timer === 'on' && rto !== null ? ` (rto ${rto >= 1000 ? `${rto / 1000} s` : `${rto} ms`})` : '';
  return `${last.timer} ×${count}${suffix}`;
}
