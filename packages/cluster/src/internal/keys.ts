/**
 * Names of every Redis key and pub/sub channel the cluster uses. All share one hash
 * tag (`{namespace}`), so a Lua script may touch any of them and a Redis Cluster
 * keeps them in one slot. docs/cluster.md §2 describes each.
 */
import { ConfigError } from '@vigil/protocol';

/** Node names and namespaces end up in key names: keep them short and plain. */
const NAME = /^[A-Za-z0-9._-]{1,64}$/;

export function assertName(field: string, value: string): void {
  if (!NAME.test(value)) throw new ConfigError(field, `must be 1-64 characters of A-Z a-z 0-9 . _ -, got ${JSON.stringify(value)}`);
}

export class Keys {
  /** `{namespace}:`, the prefix of every key and channel. */
  readonly prefix: string;
  /** Event sequence counter; every presence change increments it. */
  readonly seq: string;
  /** Session epoch counter (a peer's newer session always has the higher epoch). */
  readonly epoch: string;
  /** Hash: peer id → JSON presence entry. */
  readonly peers: string;
  /** Hash: node name → JSON node record. */
  readonly nodes: string;
  /** Channel of presence events (JSON, one per change, dense `seq`). */
  readonly events: string;
  /** Channel of broadcasts (msgpack). */
  readonly all: string;

  constructor(readonly namespace: string) {
    assertName('namespace', namespace);
    this.prefix = `{${namespace}}:`;
    this.seq = `${this.prefix}seq`;
    this.epoch = `${this.prefix}epoch`;
    this.peers = `${this.prefix}peers`;
    this.nodes = `${this.prefix}nodes`;
    this.events = `${this.prefix}events`;
    this.all = `${this.prefix}all`;
  }

  /** String with a TTL: the node's lease; its value is the holder's incarnation token. */
  lease(node: string): string {
    return `${this.prefix}lease:${node}`;
  }

  /** Set: ids of the peers the node holds. */
  owned(node: string): string {
    return `${this.prefix}owned:${node}`;
  }

  /** String with a TTL: the highest epoch of a peer's ended sessions. */
  tomb(peerId: string): string {
    return `${this.prefix}tomb:${peerId}`;
  }

  /** Channel of messages routed to one node's peers (msgpack). */
  to(node: string): string {
    return `${this.prefix}to:${node}`;
  }
}
