/**
 * `Cluster`: joins one `VigilServer` to a cluster of nodes sharing presence in Redis.
 * Holds the node's lease (renewed on a timer), writes its peers' liveness changes,
 * removes the peers of nodes whose lease expired, keeps a local replica of everyone's
 * presence from the event channel, and routes messages to peers on other nodes.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Cause, SessionChange } from '@vigil/core';
import { ConfigError, ErrorCode, VigilError } from '@vigil/protocol';
import type { Peer, VigilServer } from '@vigil/server';
import { Redis, type RedisOptions } from 'ioredis';
import { Packr } from 'msgpackr';
import type { Logger } from 'pino';
import {
  BehaviorSubject,
  Subject,
  combineLatest,
  exhaustMap,
  filter,
  firstValueFrom,
  from,
  map,
  merge,
  of,
  timeout,
  timer,
  type Observable,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { Keys, assertName } from './internal/keys.js';
import { PresenceReplica } from './internal/presence-replica.js';
import { PresenceStore, parseEvent, type PeerEntry, type WriteOutcome } from './internal/presence-store.js';
import type { ClusterEvent, ClusterNode, ClusterPeer, ClusterStatus } from './types.js';

/** Defaults of `ClusterOptions`, ms. */
export const CLUSTER_DEFAULTS = {
  leaseTtlMs: 5000,
  /** Renewal (and reaping) period: a fifth of the lease, so four renewals may fail before it expires. */
  renewFraction: 5,
  rttFlushMs: 2000,
  tombstoneMs: 60_000,
  /** Peers removed per script call when cleaning up after a lost node or leaving. */
  reapBudget: 1000,
  /** Ended sessions remembered while presence cannot be written (their causes are written later). */
  endedLimit: 10_000,
} as const;

export interface ClusterOptions {
  /** This node's name, unique in the cluster: 1-64 of `A-Z a-z 0-9 . _ -`. */
  readonly node: string;
  /** Redis to use. Default `redis://127.0.0.1:6379`. */
  readonly redisUrl?: string;
  /** Extra ioredis options (TLS, password, Sentinel...). The cluster's own settings win. */
  readonly redisOptions?: Omit<RedisOptions, 'replyMapping'>;
  /** Key prefix (hash tag) shared by the cluster's nodes; separate clusters may share one Redis. Default `vigil`. */
  readonly namespace?: string;
  /** Lease time to live, ms: a node that stops renewing is declared lost after at most this plus one `renewIntervalMs`. Default 5000. */
  readonly leaseTtlMs?: number;
  /** Ms between lease renewals (each also looks for lost nodes). At most half the TTL. Default `leaseTtlMs / 5`. */
  readonly renewIntervalMs?: number;
  /** Ms between RTT writes (only RTTs that changed by 1 ms or 10 % are written); 0 writes none. Default 2000. */
  readonly rttFlushMs?: number;
  /** Ms a peer's ended session is remembered so a stale node cannot bring it back. Default 60000. */
  readonly tombstoneMs?: number;
  /** Ms `attachCluster` waits for Redis and the lease. Default `max(5000, 2 × leaseTtlMs)`. */
  readonly startTimeoutMs?: number;
  /** Drives the renewal and RTT timers. Default: the server's scheduler. */
  readonly scheduler?: SchedulerLike;
  /** Logger; the cluster only makes a child (`component: 'vigil-cluster'`). Default: the server's. */
  readonly logger?: Logger;
}

/** `ClusterOptions` with every default applied and every value checked. */
export interface ClusterConfig {
  readonly node: string;
  readonly redisUrl: string;
  readonly namespace: string;
  readonly leaseTtlMs: number;
  readonly renewIntervalMs: number;
  readonly rttFlushMs: number;
  readonly tombstoneMs: number;
  readonly startTimeoutMs: number;
}

const REDIS_PROTOCOLS: ReadonlySet<string> = new Set(['redis:', 'rediss:']);

/**
 * Applies the defaults to `options` and checks them, without touching Redis: what
 * `attachCluster` would run with. The CLI uses it to refuse bad flags up front.
 * @throws ConfigError (`ERR_VIGIL_INVALID_CONFIG`) whose `field` names the option.
 */
export function resolveClusterConfig(options: Omit<ClusterOptions, 'scheduler' | 'logger' | 'redisOptions'>): ClusterConfig {
  assertName('node', options.node);
  const namespace = options.namespace ?? 'vigil';
  assertName('namespace', namespace);
  const redisUrl = options.redisUrl ?? 'redis://127.0.0.1:6379';
  if (!URL.canParse(redisUrl) || !REDIS_PROTOCOLS.has(new URL(redisUrl).protocol)) {
    throw new ConfigError('redisUrl', `must be a redis:// or rediss:// URL, got ${JSON.stringify(redisUrl)}`);
  }
  const leaseTtlMs = options.leaseTtlMs ?? CLUSTER_DEFAULTS.leaseTtlMs;
  if (!Number.isInteger(leaseTtlMs) || leaseTtlMs < 100) throw new ConfigError('leaseTtlMs', `must be an integer of at least 100 ms, got ${String(options.leaseTtlMs)}`);
  const renewIntervalMs = options.renewIntervalMs ?? Math.floor(leaseTtlMs / CLUSTER_DEFAULTS.renewFraction);
  if (!Number.isInteger(renewIntervalMs) || renewIntervalMs < 10 || renewIntervalMs * 2 > leaseTtlMs) {
    throw new ConfigError('renewIntervalMs', `must be an integer from 10 ms to half of leaseTtlMs (${leaseTtlMs}), got ${String(options.renewIntervalMs)}`);
  }
  const rttFlushMs = options.rttFlushMs ?? CLUSTER_DEFAULTS.rttFlushMs;
  if (!Number.isInteger(rttFlushMs) || (rttFlushMs !== 0 && rttFlushMs < 10)) {
    throw new ConfigError('rttFlushMs', `must be 0 (off) or an integer of at least 10 ms, got ${String(options.rttFlushMs)}`);
  }
  const tombstoneMs = options.tombstoneMs ?? CLUSTER_DEFAULTS.tombstoneMs;
  if (!Number.isInteger(tombstoneMs) || tombstoneMs < leaseTtlMs) throw new ConfigError('tombstoneMs', `must be an integer of at least leaseTtlMs (${leaseTtlMs}), got ${String(options.tombstoneMs)}`);
  const startTimeoutMs = options.startTimeoutMs ?? Math.max(5000, 2 * leaseTtlMs);
  if (!Number.isInteger(startTimeoutMs) || startTimeoutMs < 1) throw new ConfigError('startTimeoutMs', `must be a positive integer, got ${String(options.startTimeoutMs)}`);
  return { node: options.node, redisUrl, namespace, leaseTtlMs, renewIntervalMs, rttFlushMs, tombstoneMs, startTimeoutMs };
}

/** One of this node's sessions as the cluster writer tracks it. */
interface LocalSession {
  readonly peer: Peer<unknown>;
  /** Epoch Redis assigned at the first write; null until then. */
  epoch: number | null;
  /** Believed present in Redis. */
  published: boolean;
  /** A first write is on its way. */
  joining: boolean;
  /** Redis holds a newer session of this peer id (the client moved): never re-published. */
  superseded: boolean;
  /** As published: `suspect` also while the server holds the session detached for a resume. */
  state: 'alive' | 'suspect';
  cause: Cause | null;
  /** Server clock (ms) the state began. */
  since: number;
  rttWritten: number | null;
  subscription: Subscription | null;
}

/** Routed and broadcast messages on the wire: plain msgpack, like Vigil's own `data` bodies. */
const packr = new Packr({ useRecords: false, variableMapSize: true, encodeUndefinedAsNil: true, int64AsType: 'number' });

interface RoutedMessage {
  /** Target peer id (absent for a broadcast). */
  readonly p?: string;
  readonly m: unknown;
  /** Sending node. */
  readonly f: string;
  /** Times forwarded by a node that no longer held the peer (at most once). */
  readonly h?: number;
}

/**
 * One `VigilServer` as a node of the cluster (made by `attachCluster`): its lease, its
 * peers' presence in Redis, a replica of every node's presence, and routed messages.
 * `Out` is the server's outbound message type (what `send` and `broadcast` carry).
 */
export class Cluster<Out = unknown> {
  /** This node's name, unique among live nodes. */
  readonly node: string;
  /** Key prefix (hash tag) shared by the cluster's nodes. */
  readonly namespace: string;
  /** Lease time to live, ms. */
  readonly leaseTtlMs: number;
  /** Ms between lease renewals (and lost-node checks). */
  readonly renewIntervalMs: number;
  /** Child logger `{component: 'vigil-cluster', node}`. */
  readonly logger: Logger;
  /**
   * Counters, monotonically increasing: fenced `writes`; `stale` writes Redis ignored (a
   * newer session held the peer id); replica `resyncs`; lost nodes `reaped` by this node;
   * messages `routedIn`/`routedOut`/`forwarded`/`undeliverable`; `leaseLosses`.
   */
  readonly stats = { writes: 0, stale: 0, resyncs: 0, reaped: 0, routedIn: 0, routedOut: 0, forwarded: 0, undeliverable: 0, leaseLosses: 0 };
  private readonly keys: Keys;
  private readonly store: PresenceStore;
  private readonly redis: Redis;
  private readonly sub: Redis;
  private readonly scheduler: SchedulerLike;
  private readonly rttFlushMs: number;
  private readonly startTimeoutMs: number;
  private readonly replica = new PresenceReplica();
  private readonly sessions = new Map<string, LocalSession>();
  /** Sessions that ended while presence could not be written: session id → how. */
  private readonly ended = new Map<string, { state: 'dead' | 'closed'; cause: string | null }>();
  private readonly statusSubject: BehaviorSubject<ClusterStatus>;
  private readonly eventSubject = new Subject<ClusterEvent>();
  private readonly kick = new Subject<void>();
  /** True once the replica has loaded its first snapshot. */
  private readonly loaded = new BehaviorSubject<boolean>(false);
  private readonly subscriptions: Subscription[] = [];
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly startedAt = Date.now();
  private incarnation: string | null = null;
  /** Monotonic ms until which the lease is believed held (send time of the last good renewal + TTL). */
  private leaseUntil = Number.NEGATIVE_INFINITY;
  private dirty = true;
  private lagTarget: number | null = null;
  private resyncing: Promise<void> | null = null;
  private reaping: Promise<void> | null = null;
  private resyncAgain = false;
  private holder: string | null = null;
  private closing: Promise<void> | null = null;

  /** Use `attachCluster`. */
  constructor(
    private readonly server: VigilServer<unknown, Out>,
    options: ClusterOptions,
  ) {
    const config = resolveClusterConfig(options);
    this.node = config.node;
    this.namespace = config.namespace;
    this.keys = new Keys(this.namespace);
    this.leaseTtlMs = config.leaseTtlMs;
    this.renewIntervalMs = config.renewIntervalMs;
    this.rttFlushMs = config.rttFlushMs;
    const tombstoneMs = config.tombstoneMs;
    this.startTimeoutMs = config.startTimeoutMs;
    this.scheduler = options.scheduler ?? server.engine.scheduler;
    this.logger = (options.logger ?? server.logger).child({ component: 'vigil-cluster', node: this.node });
    this.statusSubject = new BehaviorSubject<ClusterStatus>({ state: 'starting', reason: null, since: this.scheduler.now() });

    const redisOptions: Omit<RedisOptions, 'replyMapping'> = {
      ...options.redisOptions,
      lazyConnect: true,
      // A write must never be replayed late from a queue: stale presence would win. Writes
      // that cannot go now are dropped and the node reconciles once it can write again.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: this.leaseTtlMs,
      connectTimeout: this.leaseTtlMs,
      retryStrategy: (attempt: number) => Math.min(50 * 2 ** Math.min(attempt, 10), this.renewIntervalMs),
      connectionName: `vigil-cluster:${this.node}`,
    };
    const url = config.redisUrl;
    this.redis = new Redis(url, redisOptions);
    this.sub = new Redis(url, { ...redisOptions, enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined, connectionName: `vigil-cluster:${this.node}:sub` });
    this.store = new PresenceStore(this.redis, this.keys, tombstoneMs);
  }

  /** This node's standing: `active` while it holds its lease and can write. */
  get status(): ClusterStatus {
    return this.statusSubject.value;
  }

  /** `status` and every change of it; completes on `close()`. */
  get status$(): Observable<ClusterStatus> {
    return this.statusSubject.asObservable();
  }

  /** Every presence change in the cluster (this node's included), in `seq` order, as this node learns it. */
  get events$(): Observable<ClusterEvent> {
    return this.eventSubject.asObservable();
  }

  /** This node's replica of cluster presence, by node then id: no Redis round trip, current to within one event. */
  view(): ClusterPeer[] {
    return this.replica.list();
  }

  /** Where a peer is online, per the replica. */
  locate(peerId: string): ClusterPeer | undefined {
    return this.replica.get(peerId);
  }

  /** Every online peer of every node, read from Redis now. Rejects (`ERR_VIGIL_NOT_CONNECTED`) when Redis is unreachable. */
  async peers(): Promise<ClusterPeer[]> {
    const { peers } = await this.call(this.store.snapshot());
    return peers.sort((a, b) => (a.node === b.node ? (a.id < b.id ? -1 : 1) : a.node < b.node ? -1 : 1));
  }

  /** Every node with a record in Redis, with its lease's age. Rejects (`ERR_VIGIL_NOT_CONNECTED`) when Redis is unreachable. */
  nodes(): Promise<ClusterNode[]> {
    return this.call(this.store.nodes());
  }

  /**
   * Sends one message to a peer wherever it is connected: directly if here, else via the
   * owning node's channel (a node that no longer holds the peer forwards it once). Resolves
   * true once handed to the peer or to its node, false if the peer is not online anywhere.
   * At most once: a message to a peer that is moving or dying may be lost. Rejects
   * (`ERR_VIGIL_NOT_CONNECTED`) when Redis is unreachable and the peer is not here.
   */
  async send(peerId: string, message: Out): Promise<boolean> {
    this.assertOpen();
    const local = this.server.peers.get(peerId);
    if (local) return local.send(message);
    const owner = this.replica.get(peerId)?.node ?? (await this.call(this.lookup(peerId)));
    if (owner === undefined || owner === this.node) return false;
    const reached = await this.call(this.redis.publish(this.keys.to(owner), packr.pack({ p: peerId, m: message, f: this.node } satisfies RoutedMessage)));
    if (reached > 0) this.stats.routedOut++;
    return reached > 0;
  }

  /** Sends one message to every peer of every node (this one included); resolves with the nodes reached. Rejects (`ERR_VIGIL_NOT_CONNECTED`) when Redis is unreachable. */
  async broadcast(message: Out): Promise<number> {
    this.assertOpen();
    return this.call(this.redis.publish(this.keys.all, packr.pack({ m: message, f: this.node } satisfies RoutedMessage)));
  }

  /** Redis failures, as the catalog's `ERR_VIGIL_NOT_CONNECTED` (the ioredis error is the `cause`). */
  private async call<T>(request: Promise<T>): Promise<T> {
    try {
      return await request;
    } catch (error) {
      throw new VigilError(ErrorCode.NotConnected, `cluster store unreachable: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  /**
   * Leaves the cluster in order: stops renewing, removes this node's peers from presence
   * (as `left`, cause `goaway`) and its lease, and closes the Redis connections. The
   * server keeps running. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** @internal Connects, takes the lease and loads the replica; rejects after `startTimeoutMs`. */
  async start(): Promise<void> {
    this.redis.on('error', (error: Error) => this.logger.debug({ err: error.message }, 'redis connection error'));
    this.sub.on('error', (error: Error) => this.logger.debug({ err: error.message }, 'redis subscriber error'));
    this.redis.on('ready', () => this.kick.next());
    this.redis.on('close', () => {
      if (this.closing === null) this.degrade('redis-unreachable');
    });
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.onMessage(channel.toString(), message));
    // On every (re)connect: subscribe (again; ioredis would too, but after 'ready'), then
    // load a snapshot, so nothing published after the subscription is missed.
    this.sub.on('ready', () => {
      this.replica.invalidate();
      this.sub.subscribe(this.keys.events, this.keys.all, this.keys.to(this.node)).then(
        () => this.resync(),
        (error: unknown) => this.logger.debug({ err: String(error) }, 'subscribe failed'),
      );
    });

    this.subscriptions.push(
      this.server.connections$.subscribe((peer) => this.track(peer)),
      this.server.sessionChanges$.subscribe((change) => this.onSession(change)),
    );
    for (const peer of this.server.peers.values()) this.track(peer);
    this.subscriptions.push(
      merge(timer(0, this.renewIntervalMs, this.scheduler), this.kick)
        .pipe(exhaustMap(() => from(this.tick())))
        .subscribe(),
    );
    if (this.rttFlushMs > 0) this.subscriptions.push(timer(this.rttFlushMs, this.rttFlushMs, this.scheduler).subscribe(() => this.flushRtt()));
    this.redis.connect().catch(() => undefined);
    this.sub.connect().catch(() => undefined);

    const joined = firstValueFrom(
      combineLatest([this.statusSubject, this.loaded]).pipe(
        filter(([status, loaded]) => status.state === 'active' && loaded),
        map(() => 'joined' as const),
        timeout({ first: this.startTimeoutMs, with: () => of('timeout' as const) }),
      ),
      { defaultValue: 'timeout' as const },
    );
    if ((await joined) === 'timeout') {
      const status = this.status;
      await this.close();
      if (status.reason === 'name-taken') {
        throw new VigilError(ErrorCode.Rejected, `cluster node name "${this.node}" is held by another live process (lease ${this.holder ?? '?'})`);
      }
      throw new VigilError(ErrorCode.NotConnected, `could not join the cluster through Redis within ${this.startTimeoutMs} ms (${status.reason ?? 'starting'})`);
    }
  }

  private assertOpen(): void {
    if (this.closing !== null) throw new VigilError(ErrorCode.Closed, 'cluster is closed');
  }

  private async lookup(peerId: string): Promise<string | undefined> {
    const raw = await this.redis.hget(this.keys.peers, peerId);
    return raw === null ? undefined : (JSON.parse(raw) as ClusterPeer).node;
  }

  // ---- the node's heartbeat: lease, reconcile, reap ----

  private async tick(): Promise<void> {
    if (this.closing !== null) return;
    if (this.redis.status !== 'ready') {
      this.degrade('redis-unreachable');
      return;
    }
    try {
      if (this.incarnation !== null) {
        const sentAt = this.scheduler.now();
        const { held, seq } = await this.store.renew(this.node, this.incarnation, this.leaseTtlMs);
        if (held) {
          this.leaseUntil = sentAt + this.leaseTtlMs;
          this.checkReplica(seq);
        } else {
          this.stats.leaseLosses++;
          this.logger.warn({ incarnation: this.incarnation }, 'lease lost (expired while this node could not renew it); taking a new one');
          this.incarnation = null;
          this.degrade('lease-lost');
        }
      }
      if (this.incarnation === null && !(await this.acquire())) return;
      if (this.scheduler.now() > this.leaseUntil) {
        this.degrade('lease-lost');
        return;
      }
      this.activate();
      if (this.replica.loading && this.resyncing === null) void this.resync();
      if (this.dirty) await this.reconcile();
      // Cleaning up a big lost node takes many script calls: it runs beside the ticks so
      // renewals stay on time (and any number of nodes may share the work: SPOP splits it).
      this.reaping ??= this.reap().finally(() => (this.reaping = null));
      this.publishPending();
    } catch (error) {
      if (this.closing !== null) return;
      this.dirty = true;
      this.degrade('redis-unreachable');
      this.logger.debug({ err: error instanceof Error ? error.message : String(error) }, 'cluster tick failed');
    }
  }

  private async acquire(): Promise<boolean> {
    const incarnation = randomUUID();
    const sentAt = this.scheduler.now();
    const result = await this.store.acquire(this.node, incarnation, this.leaseTtlMs, {
      node: this.node,
      incarnation,
      host: hostname(),
      pid: process.pid,
      startedAt: this.startedAt,
      leaseTtlMs: this.leaseTtlMs,
    });
    if (!result.ok) {
      this.holder = result.holder;
      if (this.status.reason !== 'name-taken') this.logger.warn({ holder: result.holder, pttlMs: result.pttlMs }, 'node name held by another lease; retrying');
      this.degrade('name-taken');
      return false;
    }
    this.incarnation = incarnation;
    this.leaseUntil = sentAt + this.leaseTtlMs;
    this.dirty = true;
    this.logger.info({ incarnation }, 'lease acquired');
    return true;
  }

  /**
   * Makes Redis match this node's sessions: re-publishes the live ones it lacks (those
   * heard from lately; the others once they prove alive), removes entries of sessions
   * that ended meanwhile (with their cause) or that this node no longer has at all
   * (`node-lost`: a previous incarnation's).
   */
  private async reconcile(): Promise<void> {
    const incarnation = this.incarnation!;
    this.dirty = false;
    const owned = await this.store.owned(this.node);
    if (this.incarnation !== incarnation) return;
    const inRedis = new Map(owned.map((e) => [e.sessionId, e]));
    let republished = 0;
    let removed = 0;
    for (const [sessionId, s] of this.sessions) {
      const entry = inRedis.get(sessionId);
      inRedis.delete(sessionId);
      if (s.joining || s.superseded) continue;
      if (entry !== undefined) {
        s.published = true;
        s.epoch = entry.epoch;
        if (entry.state !== s.state) this.write(() => this.store.update(this.node, incarnation, s.peer.id, sessionId, s.state, s.cause, this.wall(s.since)));
      } else if (this.heardLately(s)) {
        republished++;
        this.upsert(s);
      } else {
        s.published = false;
      }
    }
    for (const entry of inRedis.values()) {
      const how = this.ended.get(entry.sessionId);
      removed++;
      this.write(() => this.store.end(this.node, incarnation, entry.id, entry.sessionId, how?.state ?? 'dead', how?.cause ?? 'node-lost'));
    }
    this.ended.clear();
    if (republished + removed > 0) this.logger.info({ republished, removed }, 'presence reconciled');
  }

  private async reap(): Promise<void> {
    try {
      for (;;) {
        const { lost, more } = await this.store.reap(this.node, CLUSTER_DEFAULTS.reapBudget);
        for (const node of lost) this.logger.warn({ lostNode: node }, 'node lease expired; its peers are marked dead (node-lost)');
        this.stats.reaped += lost.length;
        if (!more || this.closing !== null) return;
      }
    } catch (error) {
      this.logger.debug({ err: error instanceof Error ? error.message : String(error) }, 'reaping failed; retried next tick');
    }
  }

  /** Sessions held back at reconcile (not heard from lately) go out once they prove alive. */
  private publishPending(): void {
    for (const s of this.sessions.values()) if (!s.published && !s.joining && !s.superseded && this.heardLately(s)) this.upsert(s);
  }

  private heardLately(s: LocalSession): boolean {
    const interval = s.peer.timing?.intervalMs ?? 0;
    return s.peer.silenceMs <= 2 * interval + this.renewIntervalMs;
  }

  private checkReplica(redisSeq: number): void {
    if (this.replica.stale(redisSeq, this.lagTarget)) {
      this.lagTarget = null;
      void this.resync();
      return;
    }
    this.lagTarget = this.replica.seq !== null && this.replica.seq < redisSeq ? redisSeq : null;
  }

  private activate(): void {
    if (this.status.state !== 'active') this.setStatus('active', null);
  }

  private degrade(reason: NonNullable<ClusterStatus['reason']>): void {
    this.dirty = true;
    if (this.status.state === 'closed' || (this.status.state === 'degraded' && this.status.reason === reason)) return;
    // Before the first join (Redis still connecting) this is expected, not news.
    if (this.status.state === 'starting') this.logger.debug({ reason }, 'cluster presence not available yet');
    else this.logger.warn({ reason }, 'cluster presence degraded');
    this.setStatus('degraded', reason);
  }

  private setStatus(state: ClusterStatus['state'], reason: ClusterStatus['reason']): void {
    if (this.statusSubject.closed) return;
    this.statusSubject.next({ state, reason, since: this.scheduler.now() });
  }

  // ---- this node's sessions → Redis ----

  /** A session to publish: one per handshake (a resumed session is the same one, on a new connection). */
  private track(peer: Peer<unknown>): void {
    if (this.sessions.has(peer.sessionId) || this.closing !== null || peer.sessionState === 'ended') return;
    const detached = peer.sessionState === 'detached';
    const s: LocalSession = { peer, epoch: null, published: false, joining: false, superseded: false, state: detached ? 'suspect' : 'alive', cause: detached ? peer.status.cause : null, since: peer.status.since, rttWritten: null, subscription: null };
    this.sessions.set(peer.sessionId, s);
    this.upsert(s);
    if (!detached) this.watch(s);
  }

  /** Follows the liveness of the connection carrying the session now (alive ⇄ suspect); endings come from `sessionChanges$`. */
  private watch(s: LocalSession): void {
    s.subscription?.unsubscribe();
    s.subscription = s.peer.status$.subscribe((status) => {
      if (status.state === 'alive' || status.state === 'suspect') this.setState(s, status.state, status.cause, status.since);
    });
  }

  private onSession(change: SessionChange): void {
    const s = this.sessions.get(change.sessionId);
    if (s === undefined) return;
    switch (change.to) {
      case 'detached':
        // Held by the server for its client to resume: not reachable, not gone.
        this.setState(s, 'suspect', change.cause, change.at);
        return;
      case 'attached':
        this.setState(s, 'alive', null, change.at);
        this.watch(s);
        return;
      case 'ended': {
        this.sessions.delete(change.sessionId);
        s.subscription?.unsubscribe();
        if (s.superseded) return;
        const final = s.peer.status;
        const state = final.state === 'closed' ? 'closed' : 'dead';
        const cause = change.cause ?? final.cause;
        if (!s.published && !s.joining) {
          // Never written, or Redis may still hold it from before a lease loss: the next reconcile removes it with this cause.
          if (s.epoch !== null) this.remember(change.sessionId, state, cause);
          return;
        }
        const incarnation = this.incarnation;
        this.write(
          () => this.store.end(this.node, incarnation!, s.peer.id, change.sessionId, state, cause),
          undefined,
          () => this.remember(change.sessionId, state, cause),
        );
        return;
      }
    }
  }

  private setState(s: LocalSession, state: 'alive' | 'suspect', cause: Cause | null, since: number): void {
    if (s.state === state) return;
    s.state = state;
    s.cause = state === 'suspect' ? cause : null;
    s.since = since;
    if ((!s.published && !s.joining) || s.superseded) return;
    const incarnation = this.incarnation;
    this.write(
      () => this.store.update(this.node, incarnation!, s.peer.id, s.peer.sessionId, state, s.cause, this.wall(since)),
      undefined,
      () => (s.published = false),
    );
  }

  private upsert(s: LocalSession): void {
    if (!this.canWrite()) {
      this.dirty = true;
      return;
    }
    const incarnation = this.incarnation!;
    s.joining = true;
    this.write(
      () => this.store.upsert(this.node, incarnation, this.entry(s), s.epoch),
      (result) => {
        s.joining = false;
        if (result.kind === 'ok') {
          s.published = true;
          s.epoch = result.epoch ?? s.epoch;
        } else if (result.kind === 'stale') {
          // A newer session of this peer id is online elsewhere: ours is the stale one.
          this.logger.info({ peerId: s.peer.id, sessionId: s.peer.sessionId, newerEpoch: result.epoch }, 'session superseded by a newer one in the cluster; not published');
          s.superseded = true;
        }
      },
      () => {
        s.joining = false;
      },
    );
  }

  /** Runs one fenced write if the node may write now; otherwise marks presence dirty for the next reconcile. */
  private write(run: () => Promise<WriteOutcome>, done?: (outcome: WriteOutcome) => void, failed?: () => void): void {
    if (!this.canWrite()) {
      this.dirty = true;
      failed?.();
      return;
    }
    this.stats.writes++;
    const p = run().then(
      (result) => {
        if (result.kind === 'stale') this.stats.stale++;
        if (result.kind !== 'nolease') {
          done?.(result);
          return;
        }
        this.leaseRefused();
        failed?.();
      },
      (error: unknown) => {
        this.dirty = true;
        failed?.();
        this.logger.debug({ err: error instanceof Error ? error.message : String(error) }, 'presence write failed; will reconcile');
      },
    );
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** Redis refused a write: our lease is gone. The next tick takes a new one and reconciles. */
  private leaseRefused(): void {
    this.dirty = true;
    if (this.status.reason !== 'lease-lost') this.degrade('lease-lost');
    this.kick.next();
  }

  private canWrite(): boolean {
    return this.status.state === 'active' && this.redis.status === 'ready' && this.incarnation !== null;
  }

  private remember(sessionId: string, state: 'dead' | 'closed', cause: string | null): void {
    this.dirty = true;
    this.ended.set(sessionId, { state, cause });
    if (this.ended.size > CLUSTER_DEFAULTS.endedLimit) this.ended.delete(this.ended.keys().next().value!);
  }

  private flushRtt(): void {
    if (!this.canWrite()) return;
    const incarnation = this.incarnation!;
    let batch: [string, string, number][] = [];
    const flush = (): void => {
      const samples = batch;
      batch = [];
      this.write(() => this.store.rtt(this.node, incarnation, samples));
    };
    for (const s of this.sessions.values()) {
      if (!s.published || s.superseded) continue;
      const rtt = s.peer.rttMs;
      if (Number.isNaN(rtt)) continue;
      // Only a change worth reading: 1 ms or 10 %, whichever is larger.
      if (s.rttWritten !== null && Math.abs(rtt - s.rttWritten) < Math.max(1, 0.1 * s.rttWritten)) continue;
      s.rttWritten = rtt;
      batch.push([s.peer.id, s.peer.sessionId, Math.round(rtt * 1000) / 1000]);
      if (batch.length === 500) flush();
    }
    if (batch.length > 0) flush();
  }

  private entry(s: LocalSession): PeerEntry {
    const peer = s.peer;
    const rtt = peer.rttMs;
    return {
      id: peer.id,
      sessionId: peer.sessionId,
      state: s.state,
      cause: s.cause,
      transport: peer.transport,
      remote: peer.remote,
      connectedAt: this.wall(peer.connectedAt),
      since: this.wall(s.since),
      rttMs: Number.isNaN(rtt) ? null : Math.round(rtt * 1000) / 1000,
    };
  }

  /** Server clock (monotonic) → wall ms, so every node's times compare. */
  private wall(t: number): number {
    return Math.round(Date.now() - (this.server.engine.now() - t));
  }

  // ---- Redis → this node: events and routed messages ----

  private onMessage(channel: string, payload: Buffer): void {
    if (channel === this.keys.events) {
      const event = parseEvent(payload.toString());
      if (event === null) return;
      const result = this.replica.offer(event);
      if (result === 'applied') this.eventSubject.next(event);
      else if (result === 'gap') void this.resync();
      return;
    }
    let routed: RoutedMessage;
    try {
      routed = packr.unpack(payload) as RoutedMessage;
    } catch {
      return;
    }
    if (channel === this.keys.all) {
      this.server.broadcast(routed.m as Out);
    } else if (routed.p !== undefined) {
      const peer = this.server.peers.get(routed.p);
      if (peer !== undefined) {
        if (peer.send(routed.m as Out)) this.stats.routedIn++;
        else this.stats.undeliverable++;
        return;
      }
      // The peer moved while the message was on its way: forward once to where it is now.
      const owner = this.replica.get(routed.p)?.node;
      if ((routed.h ?? 0) === 0 && owner !== undefined && owner !== this.node && this.redis.status === 'ready') {
        this.stats.forwarded++;
        this.redis.publish(this.keys.to(owner), packr.pack({ ...routed, h: 1 } satisfies RoutedMessage)).catch(() => (this.stats.undeliverable += 1));
      } else {
        this.stats.undeliverable++;
      }
    }
  }

  /** Reloads the replica from a snapshot (events meanwhile are buffered and replayed). */
  private resync(): Promise<void> {
    this.replica.invalidate();
    if (this.resyncing !== null) {
      this.resyncAgain = true;
      return this.resyncing;
    }
    this.resyncing = (async () => {
      do {
        this.resyncAgain = false;
        try {
          const { seq, peers } = await this.store.snapshot();
          this.stats.resyncs++;
          const { replayed, gap } = this.replica.load(seq, peers);
          this.loaded.next(true);
          this.logger.debug({ seq, peers: peers.length, replayed: replayed.length }, 'replica loaded');
          for (const event of replayed) this.eventSubject.next(event);
          if (gap) this.resyncAgain = true;
        } catch (error) {
          // Redis is unreachable: the next `ready` resyncs.
          this.logger.debug({ err: error instanceof Error ? error.message : String(error) }, 'snapshot failed');
          return;
        }
      } while (this.resyncAgain && this.closing === null);
    })().finally(() => {
      this.resyncing = null;
    });
    return this.resyncing;
  }

  private async shutdown(): Promise<void> {
    for (const s of this.subscriptions) s.unsubscribe();
    for (const s of this.sessions.values()) s.subscription?.unsubscribe();
    await Promise.allSettled([...this.inflight, this.reaping]);
    const incarnation = this.incarnation;
    this.incarnation = null;
    if (incarnation !== null && this.redis.status === 'ready') {
      try {
        await this.store.leave(this.node, incarnation, 'goaway', CLUSTER_DEFAULTS.reapBudget);
        this.logger.info('left the cluster');
      } catch (error) {
        this.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'could not leave in order; the lease will expire');
      }
    }
    this.setStatus('closed', null);
    this.statusSubject.complete();
    this.eventSubject.complete();
    await Promise.all([quit(this.redis), quit(this.sub)]);
  }
}

async function quit(redis: Redis): Promise<void> {
  if (redis.status === 'ready') {
    try {
      await redis.quit();
      return;
    } catch {
      // fall through
    }
  }
  redis.disconnect();
}

/**
 * Joins `server` to the cluster: resolves once this node holds its lease, has published
 * its peers and loaded everyone's presence. Rejects (`ERR_VIGIL_NOT_CONNECTED`) if Redis
 * stays unreachable, or (`ERR_VIGIL_REJECTED`) if another live process holds the node
 * name, for `startTimeoutMs`.
 */
export async function attachCluster<In, Out>(server: VigilServer<In, Out>, options: ClusterOptions): Promise<Cluster<Out>> {
  const cluster = new Cluster<Out>(server as unknown as VigilServer<unknown, Out>, options);
  await cluster.start();
  return cluster;
}
