/**
 * Typed calls over the Lua scripts: the only code that talks to Redis about presence.
 * `Cluster` drives it for one node; the bench drives many. Replies are decoded here
 * and nowhere else.
 */
import type { Redis } from 'ioredis';
import type { ClusterEvent, ClusterNode, ClusterPeer } from '../types.js';
import type { Keys } from './keys.js';
import { Scripts } from './scripts.js';

/** A peer entry as a node writes it; Redis adds `node` and `epoch`. */
export type PeerEntry = Omit<ClusterPeer, 'node' | 'epoch'>;

/** Outcome of a fenced write. `stale`: a newer session holds the peer id. `nolease`: the writer no longer holds its lease. */
export type WriteOutcome = { readonly kind: 'ok'; readonly epoch?: number } | { readonly kind: 'stale'; readonly epoch?: number } | { readonly kind: 'nolease' };

/** A node record as stored in the `nodes` hash. */
interface NodeRecord {
  readonly node: string;
  readonly incarnation: string;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: number;
  readonly leaseTtlMs: number;
  readonly acquiredAt: number;
  readonly lostAt?: number;
}

function asArray(reply: unknown): unknown[] {
  if (!Array.isArray(reply)) throw new TypeError(`unexpected Redis reply ${JSON.stringify(reply)}`);
  return reply as unknown[];
}

function outcome(reply: unknown): WriteOutcome {
  const [tag, epoch] = asArray(reply);
  switch (tag) {
    case 'OK':
      return epoch === undefined ? { kind: 'ok' } : { kind: 'ok', epoch: Number(epoch) };
    case 'STALE':
      return epoch === undefined ? { kind: 'stale' } : { kind: 'stale', epoch: Number(epoch) };
    case 'NOLEASE':
      return { kind: 'nolease' };
    default:
      throw new TypeError(`unexpected script reply ${JSON.stringify(reply)}`);
  }
}

/** Decodes one `events` channel message; null if it is not one of ours. */
export function parseEvent(raw: string): ClusterEvent | null {
  try {
    const event = JSON.parse(raw) as ClusterEvent;
    return typeof event.seq === 'number' && typeof event.type === 'string' ? event : null;
  } catch {
    return null;
  }
}

function parsePeer(raw: unknown): ClusterPeer {
  return JSON.parse(String(raw)) as ClusterPeer;
}

export class PresenceStore {
  constructor(
    readonly redis: Redis,
    readonly keys: Keys,
    /** Ms a peer's ended session epoch is remembered (stale re-publishes refused). */
    readonly tombstoneMs: number,
  ) {}

  private run(script: (typeof Scripts)[keyof typeof Scripts], args: readonly (string | number)[]): Promise<unknown> {
    return script.run(this.redis, this.keys.seq, [this.keys.prefix, ...args]);
  }

  async acquire(
    node: string,
    incarnation: string,
    ttlMs: number,
    record: Omit<NodeRecord, 'acquiredAt' | 'lostAt'>,
  ): Promise<{ readonly ok: true; readonly seq: number } | { readonly ok: false; readonly holder: string; readonly pttlMs: number }> {
    const reply = asArray(await this.run(Scripts.acquire, [node, incarnation, ttlMs, JSON.stringify(record)]));
    if (reply[0] === 'OK') return { ok: true, seq: Number(reply[1]) };
    return { ok: false, holder: String(reply[1]), pttlMs: Number(reply[2]) };
  }

  /** Extends the lease if still held; also returns the current event `seq`. */
  async renew(node: string, incarnation: string, ttlMs: number): Promise<{ readonly held: boolean; readonly seq: number }> {
    const [held, seq] = asArray(await this.run(Scripts.renew, [node, incarnation, ttlMs]));
    return { held: Number(held) === 1, seq: Number(seq) };
  }

  /** Cleans up after every node whose lease expired; `more` when the budget ran out first. */
  async reap(self: string, budget: number): Promise<{ readonly lost: readonly string[]; readonly more: boolean }> {
    const [more, ...lost] = asArray(await this.run(Scripts.reap, [self, this.tombstoneMs, budget]));
    return { lost: lost.map(String), more: Number(more) === 1 };
  }

  /** Writes a session: `epoch` null for a new session (a fresh epoch), else a re-publish. */
  async upsert(node: string, incarnation: string, entry: PeerEntry, epoch: number | null): Promise<WriteOutcome> {
    return outcome(await this.run(Scripts.upsert, [node, incarnation, JSON.stringify(entry), epoch === null ? '' : epoch]));
  }

  async update(node: string, incarnation: string, peerId: string, sessionId: string, state: 'alive' | 'suspect', cause: string | null, since: number): Promise<WriteOutcome> {
    return outcome(await this.run(Scripts.update, [node, incarnation, peerId, sessionId, state, cause ?? '', since]));
  }

  async end(node: string, incarnation: string, peerId: string, sessionId: string, state: 'dead' | 'closed', cause: string | null): Promise<WriteOutcome> {
    return outcome(await this.run(Scripts.end, [node, incarnation, this.tombstoneMs, peerId, sessionId, state, cause ?? '']));
  }

  async rtt(node: string, incarnation: string, samples: readonly (readonly [string, string, number])[]): Promise<WriteOutcome> {
    return outcome(await this.run(Scripts.rtt, [node, incarnation, ...samples.flat()]));
  }

  /** Orderly leave, `budget` peers per call; resolves once the node's record and lease are gone. */
  async leave(node: string, incarnation: string, cause: string, budget = 1000): Promise<'done' | 'nolease'> {
    for (;;) {
      const [tag] = asArray(await this.run(Scripts.leave, [node, incarnation, this.tombstoneMs, budget, cause]));
      if (tag === 'DONE') return 'done';
      if (tag === 'NOLEASE') return 'nolease';
    }
  }

  /** Every present peer at one instant, and the event `seq` that state reflects. */
  async snapshot(): Promise<{ readonly seq: number; readonly peers: ClusterPeer[] }> {
    const [seq, ...entries] = asArray(await this.run(Scripts.snapshot, []));
    return { seq: Number(seq), peers: entries.map(parsePeer) };
  }

  /** The entries `node` holds. */
  async owned(node: string): Promise<ClusterPeer[]> {
    return asArray(await this.run(Scripts.owned, [node])).map(parsePeer);
  }

  async nodes(): Promise<ClusterNode[]> {
    const flat = asArray(await this.run(Scripts.nodes, []));
    const out: ClusterNode[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      const record = JSON.parse(String(flat[i])) as NodeRecord;
      const pttl = Number(flat[i + 1]);
      const left = Math.max(0, pttl);
      out.push({
        node: record.node,
        incarnation: record.incarnation,
        host: record.host,
        pid: record.pid,
        startedAt: record.startedAt,
        acquiredAt: record.acquiredAt,
        leaseTtlMs: record.leaseTtlMs,
        leaseAgeMs: pttl < 0 ? record.leaseTtlMs : record.leaseTtlMs - left,
        leaseLeftMs: left,
        state: pttl >= 0 ? 'live' : record.lostAt !== undefined ? 'lost' : 'expired',
        peers: Number(flat[i + 2]),
      });
    }
    return out.sort((a, b) => a.node.localeCompare(b.node));
  }
}
