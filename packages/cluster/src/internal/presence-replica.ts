/**
 * A node's local copy of cluster presence: a snapshot plus the event stream, applied
 * in `seq` order. Events are dense, so a missing or backwards `seq` (missed messages,
 * a Redis that restarted empty) is detected, and the owner reloads a snapshot. Pure.
 */
import type { ClusterEvent, ClusterPeer } from '../types.js';

export type OfferResult =
  /** Applied in order; pass it on. */
  | 'applied'
  /** Held until the snapshot in flight arrives. */
  | 'buffered'
  /** Out of order: a snapshot is needed (the event is kept and replayed after it). */
  | 'gap';

export class PresenceReplica {
  private readonly peers = new Map<string, ClusterPeer>();
  private current: number | null = null;
  /** Non-null while waiting for a snapshot: events that arrived meanwhile. */
  private buffer: ClusterEvent[] | null = [];

  /** Seq of the last applied change; null before the first snapshot. */
  get seq(): number | null {
    return this.current;
  }

  /** True while waiting for a snapshot. */
  get loading(): boolean {
    return this.buffer !== null;
  }

  get size(): number {
    return this.peers.size;
  }

  get(peerId: string): ClusterPeer | undefined {
    return this.peers.get(peerId);
  }

  /** Every present peer, by node then id. */
  list(): ClusterPeer[] {
    return [...this.peers.values()].sort((a, b) => (a.node === b.node ? cmp(a.id, b.id) : cmp(a.node, b.node)));
  }

  /** Takes one event from the channel. */
  offer(event: ClusterEvent): OfferResult {
    if (this.buffer !== null) {
      this.buffer.push(event);
      return 'buffered';
    }
    if (event.seq === this.current! + 1) {
      this.apply(event);
      return 'applied';
    }
    this.buffer = [event];
    return 'gap';
  }

  /** Stops applying events until the next `load` (the owner asks Redis for a snapshot). */
  invalidate(): void {
    this.buffer ??= [];
  }

  /**
   * Replaces the state with a snapshot taken at `seq`, then replays the buffered events
   * after it. Returns the replayed events and whether another gap needs another snapshot.
   */
  load(seq: number, peers: readonly ClusterPeer[]): { readonly replayed: ClusterEvent[]; readonly gap: boolean } {
    this.peers.clear();
    for (const peer of peers) this.peers.set(peer.id, peer);
    this.current = seq;
    const pending = (this.buffer ?? []).sort((a, b) => a.seq - b.seq);
    this.buffer = null;
    const replayed: ClusterEvent[] = [];
    for (const [i, event] of pending.entries()) {
      if (event.seq <= seq) continue;
      if (event.seq !== this.current + 1) {
        this.buffer = pending.slice(i);
        return { replayed, gap: true };
      }
      this.apply(event);
      replayed.push(event);
    }
    return { replayed, gap: false };
  }

  /**
   * Compares with the `seq` Redis reported: true when this copy cannot be right (ahead
   * of Redis: Redis lost its data) or has stayed behind since the previous check
   * (`lagTarget`, events lost on the way).
   */
  stale(redisSeq: number, lagTarget: number | null): boolean {
    if (this.buffer !== null || this.current === null) return false;
    if (this.current > redisSeq) return true;
    return lagTarget !== null && this.current < lagTarget;
  }

  private apply(event: ClusterEvent): void {
    this.current = event.seq;
    switch (event.type) {
      case 'joined':
        this.peers.set(event.peer.id, event.peer);
        return;
      case 'suspect':
      case 'recovered': {
        const peer = this.peers.get(event.peerId);
        if (peer?.sessionId === event.sessionId) {
          this.peers.set(event.peerId, { ...peer, state: event.type === 'suspect' ? 'suspect' : 'alive', cause: event.cause, since: event.since });
        }
        return;
      }
      case 'dead':
      case 'left':
        if (this.peers.get(event.peerId)?.sessionId === event.sessionId) this.peers.delete(event.peerId);
        return;
      case 'rtt':
        for (const [peerId, sessionId, rttMs] of event.samples) {
          const peer = this.peers.get(peerId);
          if (peer?.sessionId === sessionId) this.peers.set(peerId, { ...peer, rttMs });
        }
        return;
      case 'node-joined':
      case 'node-lost':
      case 'node-left':
        return;
    }
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
