/**
 * The page's copy of the server's state: peers by session key, rebuilt from a
 * `full` message and patched by `delta`s, plus the server clock (extrapolated
 * between messages), the latest summary and, on a cluster node, the node list.
 * No DOM.
 */

export const STATES = ['suspect', 'dead', 'connecting', 'alive', 'closed'];
export const ENDED = new Set(['dead', 'closed']);

export class Model {
  constructor() {
    /** @type {Map<number, any>} */
    this.peers = new Map();
    this.config = null;
    this.kernel = false;
    this.rttHistory = 16;
    this.summary = null;
    this.lagHistory = [];
    /** `{ node, status, nodes, nodesAt, error }` on a cluster node; null otherwise. */
    this.cluster = null;
    this.version = 0;
    this.serverAt = 0;
    this.localAt = performance.now();
    this.wallOffset = 0;
  }

  /** Server clock now, ms (the last message's clock plus local time elapsed since). */
  now() {
    return this.serverAt + (performance.now() - this.localAt);
  }

  /** A server-clock time as wall-clock ms. */
  wall(t) {
    return t + this.wallOffset;
  }

  sync(msg) {
    this.serverAt = msg.now;
    this.localAt = performance.now();
    this.wallOffset = msg.wall - msg.now;
  }

  reset(msg) {
    this.sync(msg);
    this.config = msg.config;
    this.kernel = msg.kernel;
    this.rttHistory = msg.rttHistory;
    this.summary = msg.summary;
    this.lagHistory = [...msg.lagHistory];
    this.cluster = msg.cluster ?? null;
    this.peers.clear();
    for (const p of msg.peers) this.peers.set(p.k, this.decode(p, msg.now));
    this.version++;
  }

  apply(msg) {
    this.sync(msg);
    for (const patch of msg.up) {
      const peer = this.peers.get(patch.k);
      if (peer === undefined) this.peers.set(patch.k, this.decode(patch, msg.now));
      else this.patch(peer, patch, msg.now);
    }
    for (const k of msg.rm) this.peers.delete(k);
    if (msg.summary) {
      // A summary sent early for a death repeats the last lag window; only new windows extend the chart.
      if (msg.summary.lagWindow !== this.summary?.lagWindow) {
        this.lagHistory.push(msg.summary.lag.p99);
        if (this.lagHistory.length > 60) this.lagHistory.shift();
      }
      this.summary = msg.summary;
    }
    if (msg.cluster) this.cluster = msg.cluster;
    this.version++;
  }

  decode(p, now) {
    const peer = { ...p, lastSeenAt: now - p.lsa, smp: [...(p.smp ?? [])] };
    delete peer.lsa;
    return peer;
  }

  patch(peer, patch, now) {
    for (const key of Object.keys(patch)) {
      if (key === 'lsa') peer.lastSeenAt = now - patch.lsa;
      else if (key === 'sa') peer.smp = [...peer.smp, ...patch.sa].slice(-this.rttHistory);
      else if (key === 'smp') peer.smp = [...patch.smp];
      else peer[key] = patch[key];
    }
  }

  /** True for a peer held by another cluster node: only its node hears its heartbeats. */
  isRemote(peer) {
    return this.cluster !== null && peer.nd !== undefined && peer.nd !== this.cluster.node;
  }

  /** Ms since the peer's last inbound frame (frozen when it ended). */
  silence(peer, now = this.now()) {
    const end = ENDED.has(peer.st) ? peer.since : now;
    return Math.max(0, end - peer.lastSeenAt);
  }

  timeout(peer) {
    return peer.to ?? this.config?.timeoutMs ?? 1;
  }

  suspectAfter(peer) {
    const c = this.config;
    if (!c) return Infinity;
    return c.suspectAfterMs * ((peer.iv ?? c.intervalMs) / c.intervalMs);
  }

  counts() {
    const c = { connecting: 0, alive: 0, suspect: 0, dead: 0, closed: 0 };
    for (const p of this.peers.values()) c[p.st]++;
    return c;
  }
}
