/**
 * The dashboard stream's delta encoder: keeps the last state it sent for every peer
 * session and turns a fresh `PeerInfo` snapshot into the smallest patch set (only
 * changed fields of changed peers, RTT samples as appended values, removals by key).
 * Pure: the live feed and the cost benchmark drive the same code.
 */
import type { PeerState, TransportKind } from '@vigil/core';
import type { PeerInfo } from '@vigil/server';

/** What the page shows of the kernel's socket for one peer (no payload, no addresses beyond the peer's own). */
export interface KernelView {
  /** TCP state of our socket, e.g. `ESTABLISHED`. */
  readonly st: string;
  /** Unacknowledged and unread bytes on our socket. */
  readonly txq: number;
  readonly rxq: number;
  /** Pending kernel timer (`off`, `retransmit`, `keepalive`, ...) and when it fires (engine clock ms, rounded to 100 ms), null when off. */
  readonly tmr: string;
  readonly tmrAt: number | null;
  /** Unrecovered retransmissions and unanswered probes. */
  readonly rtx: number;
  readonly prb: number;
  /** The peer's own socket when it runs on this host: its state and bytes it has not read yet. */
  readonly ps: { readonly st: string; readonly rxq: number; readonly txq: number } | null;
  /** True once the peer has ended: this is the last view taken before it did. */
  readonly frozen: boolean;
}

/** One peer session on the wire (the `full` message). Times are engine-clock ms. */
export interface EncodedPeer {
  /** Small integer key of the session, stable for the life of the stream. */
  readonly k: number;
  readonly id: string;
  readonly tr: TransportKind;
  readonly rem: string;
  readonly st: PeerState;
  readonly ca: string | null;
  /** When the current state began. */
  readonly since: number;
  /** Age of the last inbound frame at the message's `now`, ms (for ended peers: frozen at the end). */
  readonly lsa: number;
  /** Smoothed RTT and its variation, ms (2 decimals); null before the first pong. */
  readonly rtt: number | null;
  readonly rv: number | null;
  /** Recent raw RTT samples, ms, oldest first. */
  readonly smp: readonly number[];
  readonly iv: number | null;
  readonly to: number | null;
  readonly rc: number;
  readonly con: number;
  readonly kn: KernelView | null;
  /** The cluster node holding the peer; absent when the dashboard is not clustered. */
  readonly nd?: string;
}

/** A peer to encode: the server's `PeerInfo`, plus the node holding it when the dashboard shows a cluster. */
export type EncoderInput = PeerInfo & { readonly node?: string };

/** Changed fields of one peer; `sa` appends RTT samples (the page keeps the last `rttHistory`). */
export type PeerPatch = { readonly k: number } & Partial<Omit<EncodedPeer, 'k'>> & { readonly sa?: readonly number[] };

export interface Delta {
  readonly up: readonly PeerPatch[];
  readonly rm: readonly number[];
}

export type PeerCounts = Record<PeerState, number>;

interface Entry {
  peer: EncodedPeer;
  /** Absolute time of the last inbound frame, ms. */
  lastSeenAt: number;
  /** The kernel view last seen (by identity) and its value key. */
  kernel: KernelView | null;
  kernelKey: string;
  gen: number;
}

/** lastSeenMs is rounded to 1 ms against a clock read a few µs apart from ours. */
const LAST_SEEN_TOLERANCE_MS = 2;

const round2 = (n: number): number => Math.round(n * 100) / 100;
const round2OrNull = (n: number | null): number | null => (n === null ? null : round2(n));

export function kernelKey(k: KernelView | null): string {
  if (k === null) return '';
  const ps = k.ps === null ? '' : `${k.ps.st}/${k.ps.rxq}/${k.ps.txq}`;
  return `${k.st}|${k.txq}|${k.rxq}|${k.tmr}|${k.tmrAt ?? ''}|${k.rtx}|${k.prb}|${ps}|${k.frozen ? 1 : 0}`;
}

function isEnded(state: PeerState): boolean {
  return state === 'dead' || state === 'closed';
}

function sameSamples(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * How the page gets from `prev` to `cur`: append the shortest tail of `cur` that,
 * appended to `prev` and cut to `cap`, gives `cur` (`sa`); else replace it (`smp`).
 * Null when nothing changed.
 */
export function diffSamples(prev: readonly number[], cur: readonly number[], cap: number): { readonly sa: readonly number[] } | { readonly smp: readonly number[] } | null {
  if (sameSamples(prev, cur)) return null;
  for (let n = 1; n <= cur.length; n++) {
    if (Math.min(cap, prev.length + n) !== cur.length) continue;
    const fromPrev = cur.length - n;
    let ok = true;
    for (let i = 0; i < fromPrev && ok; i++) ok = prev[prev.length - fromPrev + i] === cur[i];
    if (ok) return { sa: cur.slice(fromPrev) };
  }
  return { smp: cur };
}

function encode(info: EncoderInput, k: number, lsa: number, kn: KernelView | null, node: string | undefined): EncodedPeer {
  const nd = info.node ?? node;
  return {
    k,
    id: info.id,
    tr: info.transport,
    rem: info.remote,
    st: info.state,
    ca: info.cause,
    since: Math.round(info.since),
    lsa,
    rtt: round2OrNull(info.rttMs),
    rv: round2OrNull(info.rttVarMs),
    smp: info.rttSamples.map(round2),
    iv: info.intervalMs,
    to: info.timeoutMs,
    rc: info.reconnects,
    con: Math.round(info.connectedAt),
    kn,
    ...(nd === undefined ? {} : { nd }),
  };
}

/** True when `info` would produce no patch against `entry`; compares values in place. */
function unchanged(entry: Entry, info: EncoderInput, lastSeenAt: number, ended: boolean, kn: KernelView | null, node: string | undefined): boolean {
  const p = entry.peer;
  if ((info.node ?? node) !== p.nd) return false;
  if (info.state !== p.st || info.cause !== p.ca || Math.round(info.since) !== p.since || info.reconnects !== p.rc) return false;
  if (round2OrNull(info.rttMs) !== p.rtt || round2OrNull(info.rttVarMs) !== p.rv) return false;
  if (info.id !== p.id || info.transport !== p.tr || info.remote !== p.rem || info.intervalMs !== p.iv || info.timeoutMs !== p.to || Math.round(info.connectedAt) !== p.con) return false;
  if (Math.abs(lastSeenAt - entry.lastSeenAt) > LAST_SEEN_TOLERANCE_MS || ended !== isEnded(p.st)) return false;
  const samples = info.rttSamples;
  if (samples.length !== p.smp.length) return false;
  for (let i = 0; i < samples.length; i++) if (round2(samples[i]!) !== p.smp[i]) return false;
  return kn === entry.kernel || kernelKey(kn) === entry.kernelKey;
}

/** Applies a patch's `sa` the way the page does; exported for tests. */
export function applySamples(prev: readonly number[], appended: readonly number[], cap: number): number[] {
  return [...prev, ...appended].slice(-cap);
}

export class StreamEncoder {
  private readonly entries = new Map<string, Entry>();
  private nextKey = 1;
  private gen = 0;
  private lastNow = 0;

  /** @param rttHistory samples the server keeps per peer (`RTT_HISTORY`); the page trims to the same length. */
  constructor(readonly rttHistory: number) {}

  /** Engine clock of the last update, ms; the `now` a `full()` message must carry. */
  get now(): number {
    return this.lastNow;
  }

  /** Sessions currently known. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Diffs a snapshot against what was last sent and remembers it.
   * @param now engine clock, ms, read just before the snapshot was taken.
   * @param kernelOf the kernel view for a peer, or null when unknown.
   * @param node the node of peers that do not name one (this server's, when clustered); undefined: no node column.
   */
  update(snapshot: Iterable<EncoderInput>, now: number, kernelOf: (info: PeerInfo) => KernelView | null = () => null, node?: string): Delta {
    const gen = ++this.gen;
    this.lastNow = now;
    const up: PeerPatch[] = [];
    for (const info of snapshot) {
      const ended = isEnded(info.state);
      // An ended peer's lastSeenMs is its silence at the end, not at `now`.
      const lastSeenAt = ended ? info.since - info.lastSeenMs : now - info.lastSeenMs;
      const kn = kernelOf(info);
      const entry = this.entries.get(info.sessionId);
      if (entry === undefined) {
        const peer = encode(info, this.nextKey++, Math.max(0, Math.round(now - lastSeenAt)), kn, node);
        this.entries.set(info.sessionId, { peer, lastSeenAt, kernel: kn, kernelKey: kernelKey(kn), gen });
        up.push(peer);
        continue;
      }
      entry.gen = gen;
      // Most peers did not change since the last tick; tell so without allocating.
      if (unchanged(entry, info, lastSeenAt, ended, kn, node)) continue;
      const prev = entry.peer;
      const lsa = Math.max(0, Math.round(now - lastSeenAt));
      const next = encode(info, prev.k, lsa, kn, node);
      const patch: { -readonly [K in keyof PeerPatch]: PeerPatch[K] } = { k: prev.k };
      if (next.id !== prev.id) patch.id = next.id;
      if (next.tr !== prev.tr) patch.tr = next.tr;
      if (next.rem !== prev.rem) patch.rem = next.rem;
      if (next.st !== prev.st) patch.st = next.st;
      if (next.ca !== prev.ca) patch.ca = next.ca;
      if (next.since !== prev.since) patch.since = next.since;
      if (Math.abs(lastSeenAt - entry.lastSeenAt) > LAST_SEEN_TOLERANCE_MS || ended !== isEnded(prev.st)) {
        entry.lastSeenAt = lastSeenAt;
        patch.lsa = lsa;
      }
      if (next.rtt !== prev.rtt) patch.rtt = next.rtt;
      if (next.rv !== prev.rv) patch.rv = next.rv;
      const samples = diffSamples(prev.smp, next.smp, this.rttHistory);
      if (samples !== null) Object.assign(patch, samples);
      if (next.iv !== prev.iv) patch.iv = next.iv;
      if (next.to !== prev.to) patch.to = next.to;
      if (next.rc !== prev.rc) patch.rc = next.rc;
      if (next.con !== prev.con) patch.con = next.con;
      if (next.nd !== prev.nd && next.nd !== undefined) patch.nd = next.nd;
      const knKey = kn === entry.kernel ? entry.kernelKey : kernelKey(kn);
      if (knKey !== entry.kernelKey) patch.kn = kn;
      entry.kernel = kn;
      entry.kernelKey = knKey;
      entry.peer = next;
      up.push(patch);
    }
    const rm: number[] = [];
    for (const [session, entry] of this.entries) {
      if (entry.gen === gen) continue;
      rm.push(entry.peer.k);
      this.entries.delete(session);
    }
    return { up, rm };
  }

  /** Every known peer as last sent, with `lsa` relative to `now` (default: the last update's clock). */
  full(now = this.lastNow): EncodedPeer[] {
    const out: EncodedPeer[] = [];
    for (const e of this.entries.values()) out.push({ ...e.peer, lsa: Math.max(0, Math.round(now - e.lastSeenAt)) });
    return out;
  }

  /** Peers by state, from what was last sent. */
  counts(): PeerCounts {
    const c: PeerCounts = { connecting: 0, alive: 0, suspect: 0, dead: 0, closed: 0 };
    for (const e of this.entries.values()) c[e.peer.st]++;
    return c;
  }
}
