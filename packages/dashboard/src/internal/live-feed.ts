/**
 * The dashboard's live stream (Server-Sent Events): one shared ticker diffs the
 * server's snapshot every `updateIntervalMs` and sends the same batched delta to
 * every connected page; a page that connects (or reconnects) gets the full state
 * first. Timeline events, deaths per minute, event-loop lag and the kernel's view
 * of each socket ride along. Nothing runs while no page is connected.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { constants as zlib, createGzip, type Gzip } from 'node:zlib';
import { RTT_HISTORY, isTerminal, type HeartbeatConfig, type StateChange } from '@vigil/core';
import type { Peer, PeerInfo, VigilServer } from '@vigil/server';
import type { Subscription } from 'rxjs';
import type { DashboardClusterNode, DashboardClusterPeer, DashboardClusterSource } from '../cluster-source.js';
import { findConnection, normalizeAddress, parseHostPort, type SocketIndex, type TcpEndpoint, type TcpSocketEntry } from '../proc-net-tcp.js';
import { DeathRate } from './death-rate.js';
import { KernelSampler } from './kernel-sampler.js';
import { LoopLag, type LagWindow } from './loop-lag.js';
import { StreamEncoder, type Delta, type EncodedPeer, type EncoderInput, type KernelView } from './stream-encoder.js';
import { EventRing, toTimelineEvent, type TimelineEvent } from './timeline.js';

/** Version of the stream's message format (`full.v`); see docs/dashboard.md. */
export const STREAM_VERSION = 1;

export interface LiveFeedOptions {
  /** Ms between deltas. */
  readonly updateIntervalMs: number;
  /** Ms between kernel socket-table reads; 0 turns the kernel view off. */
  readonly kernelIntervalMs: number;
  readonly procNetTcpPaths: readonly string[];
  /** Events kept and sent in the `full` message. */
  readonly timelineLength: number;
  /** A page whose unsent bytes pass this is skipped and gets a fresh `full` once drained. */
  readonly maxBufferedBytes: number;
  /** The cluster this server is a node of: every node's peers join the table (with `nd`), and the node list rides along. */
  readonly cluster: DashboardClusterSource | null;
}

/** The cluster part of the stream: this node, its standing, and every node's lease as last read. */
export interface ClusterMessage {
  /** This node's name; peers with another `nd` are held by other nodes. */
  readonly node: string;
  readonly status: { readonly state: string; readonly reason: string | null };
  /** Every node with its lease, read from the store once a second while a page is connected. */
  readonly nodes: readonly DashboardClusterNode[];
  /** Wall ms of that read; null before the first one succeeded. */
  readonly nodesAt: number | null;
  /** Why the last read failed (the store is unreachable: `nodes` is the last good list); null when it succeeded. */
  readonly error: string | null;
}

export interface Summary {
  /** Deaths in the last minute, by cause. */
  readonly deathsPerMin: Record<string, number>;
  /** Event-loop delay of this process over the last second, ms. */
  readonly lag: LagWindow;
  /** Sequence number of that lag window (a summary sent early for a death repeats the window). */
  readonly lagWindow: number;
  readonly heartbeats: { readonly sent: number; readonly received: number };
  readonly connections: number;
}

export interface FullMessage {
  readonly v: number;
  readonly now: number;
  readonly wall: number;
  readonly config: Pick<HeartbeatConfig, 'intervalMs' | 'suspectAfterMs' | 'timeoutMs'>;
  readonly rttHistory: number;
  readonly kernel: boolean;
  readonly peers: readonly EncodedPeer[];
  readonly events: readonly TimelineEvent[];
  readonly summary: Summary;
  readonly lagHistory: readonly number[];
  /** Null when the server is not a cluster node. */
  readonly cluster: ClusterMessage | null;
}

export interface DeltaMessage extends Delta {
  readonly now: number;
  readonly wall: number;
  readonly ev: readonly TimelineEvent[];
  /** Events left out of this delta because too many happened in one tick. */
  readonly evSkipped: number;
  readonly summary?: Summary;
  /** When clustered: with every summary, and right after each read of the node list (about once a second). */
  readonly cluster?: ClusterMessage;
}

/** Events per delta; a mass death of 10,000 peers is summarised, not streamed. */
const MAX_EVENTS_PER_DELTA = 500;
const SUMMARY_EVERY_MS = 1000;
const LAG_HISTORY = 60;
/** At most one extra kernel read this soon after another (suspect storms). */
const KERNEL_MIN_GAP_MS = 100;

interface Client {
  readonly res: ServerResponse;
  /** Set when the page accepts gzip: one compression stream for the whole response, flushed per message. */
  readonly gzip: Gzip | null;
  stale: boolean;
}

function send(client: Client, text: string): void {
  if (client.gzip === null) {
    client.res.write(text);
    return;
  }
  client.gzip.write(text);
  client.gzip.flush(zlib.Z_SYNC_FLUSH);
}

/** Bytes queued for a page and not yet handed to the kernel. */
function backlog(client: Client): number {
  const z = client.gzip;
  return client.res.writableLength + (z === null ? 0 : z.writableLength + z.readableLength);
}

/** Encodes one SSE message; JSON never contains a raw newline. */
export function sseMessage(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Our local endpoint of a peer's socket, for exact kernel matching. The `Transport`
 * port does not carry it, so this looks at the Node transports: TcpTransport exposes
 * `socket`, WsTransport exposes `ws`, which keeps its net.Socket at `_socket`.
 */
function localEndpoint(peer: Peer): TcpEndpoint | null {
  const t = peer.connection.transport as { socket?: Socket; ws?: { _socket?: Socket } };
  const s = t.socket ?? t.ws?._socket;
  if (s?.localAddress === undefined || s.localPort === undefined) return null;
  return { address: normalizeAddress(s.localAddress), port: s.localPort };
}

function kernelView(ours: TcpSocketEntry, theirs: TcpSocketEntry | null, at: number): KernelView {
  return {
    st: ours.state,
    txq: ours.txQueue,
    rxq: ours.rxQueue,
    tmr: ours.timer,
    tmrAt: ours.timer === 'off' ? null : Math.round((at + ours.timerMs) / 100) * 100,
    rtx: ours.retransmits,
    prb: ours.probes,
    ps: theirs === null ? null : { st: theirs.state, rxq: theirs.rxQueue, txq: theirs.txQueue },
    frozen: false,
  };
}

/**
 * Another node's peer in the encoder's input shape. Its last-seen time is pinned to
 * `since` (only its own node hears it), so it changes only when its state does.
 */
function remotePeer(p: DashboardClusterPeer, wallToEngine: number, now: number): EncoderInput {
  const since = p.since + wallToEngine;
  return {
    id: p.id,
    sessionId: p.sessionId,
    transport: p.transport,
    remote: p.remote,
    state: p.state,
    cause: p.cause,
    rttMs: p.rttMs,
    rttVarMs: null,
    rttSamples: [],
    clockOffsetMs: null,
    lastSeenMs: Math.max(0, now - since),
    intervalMs: null,
    timeoutMs: null,
    connectedAt: p.connectedAt + wallToEngine,
    since,
    reconnects: 0,
    node: p.node,
  };
}

export class LiveFeed {
  private readonly clients = new Set<Client>();
  private readonly encoder = new StreamEncoder(RTT_HISTORY);
  private readonly ring: EventRing<TimelineEvent>;
  private pending: TimelineEvent[] = [];
  private skipped = 0;
  private readonly deaths = new DeathRate();
  private readonly lag = new LoopLag();
  private readonly lagHistory: number[] = [];
  private readonly sampler: KernelSampler | null;
  private readonly kernel = new Map<string, { view: KernelView; gen: number }>();
  private readonly locals = new WeakMap<Peer, TcpEndpoint>();
  private kernelGen = 0;
  private kernelReading = false;
  private lastKernelRead = 0;
  private ticker: NodeJS.Timeout | null = null;
  private kernelTimer: NodeJS.Timeout | null = null;
  private lastSummaryAt = 0;
  private summary: Summary;
  private readonly subscription: Subscription;
  private closed = false;
  /** Engine clock minus wall clock, fixed once, so other nodes' wall times map to stable engine times. */
  private readonly wallToEngine: number;
  private clusterNodes: readonly DashboardClusterNode[] = [];
  private clusterNodesAt: number | null = null;
  private clusterError: string | null = null;
  private nodesReading = false;
  /** A node list was read since the last delta: the next one carries it. */
  private clusterFresh = false;

  constructor(
    private readonly server: VigilServer<unknown, unknown>,
    private readonly options: LiveFeedOptions,
  ) {
    this.ring = new EventRing(options.timelineLength);
    const sampler = options.kernelIntervalMs > 0 ? new KernelSampler(options.procNetTcpPaths) : null;
    this.sampler = sampler?.available ? sampler : null;
    this.summary = this.makeSummary({ p50: 0, p99: 0, max: 0 }, 0);
    this.subscription = server.changes$.subscribe((c) => this.onChange(c));
    this.wallToEngine = server.engine.now() - Date.now();
  }

  /** Pages connected now. */
  get size(): number {
    return this.clients.size;
  }

  /**
   * Takes over an SSE response: headers, the full state, then deltas until it closes.
   * @param gzip compress the stream (the request's `Accept-Encoding` allows gzip); about 4.5× fewer bytes.
   */
  add(res: ServerResponse, gzip = false): void {
    if (this.closed) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('dashboard closed\n');
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
      vary: 'accept-encoding',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    });
    res.socket?.setNoDelay(true);
    const client: Client = { res, gzip: gzip ? createGzip() : null, stale: false };
    client.gzip?.pipe(res);
    if (this.clients.size === 0) this.start();
    this.clients.add(client);
    res.on('close', () => {
      client.gzip?.destroy();
      this.clients.delete(client);
      if (this.clients.size === 0) this.stop();
    });
    send(client, 'retry: 1000\n\n');
    send(client, sseMessage('full', this.fullMessage()));
  }

  /** Ends every stream and stops for good. */
  close(): void {
    this.closed = true;
    this.subscription.unsubscribe();
    for (const c of [...this.clients]) {
      if (c.gzip !== null) c.gzip.end();
      else c.res.end();
    }
    this.clients.clear();
    this.stop();
  }

  private start(): void {
    this.lag.start();
    this.pending = [];
    this.skipped = 0;
    // Bring the model up to date; nobody is listening to this delta.
    const now = this.server.engine.now();
    this.encoder.update(this.peers(now), now, (info) => this.kernelOf(info), this.options.cluster?.node);
    void this.readNodes();
    this.ticker = setInterval(() => this.tick(), this.options.updateIntervalMs);
    this.ticker.unref();
    if (this.sampler !== null) {
      this.kernelTimer = setInterval(() => void this.readKernel(), this.options.kernelIntervalMs);
      this.kernelTimer.unref();
      void this.readKernel();
    }
  }

  private stop(): void {
    if (this.ticker !== null) clearInterval(this.ticker);
    if (this.kernelTimer !== null) clearInterval(this.kernelTimer);
    this.ticker = this.kernelTimer = null;
    this.lag.stop();
  }

  private fullMessage(): FullMessage {
    const c = this.server.config;
    return {
      v: STREAM_VERSION,
      now: this.encoder.now,
      wall: Date.now() - (this.server.engine.now() - this.encoder.now),
      config: { intervalMs: c.intervalMs, suspectAfterMs: c.suspectAfterMs, timeoutMs: c.timeoutMs },
      rttHistory: this.encoder.rttHistory,
      kernel: this.sampler !== null,
      peers: this.encoder.full(),
      events: this.ring.recent(),
      summary: this.summary,
      lagHistory: this.lagHistory,
      cluster: this.clusterMessage(),
    };
  }

  /** This server's peers and, when clustered, every other node's (from the cluster's replica). */
  private peers(now: number): EncoderInput[] {
    const local: EncoderInput[] = this.server.snapshot();
    const cluster = this.options.cluster;
    if (cluster === null) return local;
    for (const p of cluster.view()) if (p.node !== cluster.node) local.push(remotePeer(p, this.wallToEngine, now));
    return local;
  }

  private clusterMessage(): ClusterMessage | null {
    const cluster = this.options.cluster;
    if (cluster === null) return null;
    const { state, reason } = cluster.status;
    return { node: cluster.node, status: { state, reason }, nodes: this.clusterNodes, nodesAt: this.clusterNodesAt, error: this.clusterError };
  }

  /** Reads the node list (one store round trip); a failed read keeps the last list and says why. */
  private async readNodes(): Promise<void> {
    const cluster = this.options.cluster;
    if (cluster === null || this.nodesReading) return;
    this.nodesReading = true;
    try {
      // Only the fields the page shows: the source may hand over richer records.
      this.clusterNodes = (await cluster.nodes()).map(({ node, host, pid, leaseTtlMs, leaseAgeMs, leaseLeftMs, state, peers }) => ({ node, host, pid, leaseTtlMs, leaseAgeMs, leaseLeftMs, state, peers }));
      this.clusterNodesAt = Date.now();
      this.clusterError = null;
    } catch (error) {
      this.clusterError = error instanceof Error ? error.message : String(error);
    } finally {
      this.clusterFresh = true;
      this.nodesReading = false;
    }
  }

  private tick(): void {
    const now = this.server.engine.now();
    const delta = this.encoder.update(this.peers(now), now, (info) => this.kernelOf(info), this.options.cluster?.node);
    this.pruneKernel();
    let summary: Summary | undefined;
    if (now - this.lastSummaryAt >= SUMMARY_EVERY_MS - this.options.updateIntervalMs / 2) {
      this.lastSummaryAt = now;
      const lag = this.lag.read();
      this.lagHistory.push(lag.p99);
      if (this.lagHistory.length > LAG_HISTORY) this.lagHistory.shift();
      summary = this.summary = this.makeSummary(lag, this.summary.lagWindow + 1);
      // Lease ages move every second: read them for the next summary.
      void this.readNodes();
    } else if (this.pending.some((e) => e.kind === 'dead')) {
      // Deaths per minute moves now, not at the next second; the lag window keeps running.
      summary = this.summary = this.makeSummary(this.summary.lag, this.summary.lagWindow);
    }
    const ev = this.pending;
    const evSkipped = this.skipped;
    this.pending = [];
    this.skipped = 0;
    if (delta.up.length === 0 && delta.rm.length === 0 && ev.length === 0 && evSkipped === 0 && summary === undefined && !this.clusterFresh) return;
    const cluster = summary !== undefined || this.clusterFresh ? this.clusterMessage() : null;
    this.clusterFresh = false;
    const message: DeltaMessage = { now: Math.round(now), wall: Date.now(), up: delta.up, rm: delta.rm, ev, evSkipped, ...(summary ? { summary } : {}), ...(cluster ? { cluster } : {}) };
    let text: string | null = null;
    for (const client of this.clients) {
      if (client.stale) {
        if (backlog(client) > 0) continue;
        client.stale = false;
        send(client, sseMessage('full', this.fullMessage()));
        continue;
      }
      if (backlog(client) > this.options.maxBufferedBytes) {
        client.stale = true;
        continue;
      }
      text ??= sseMessage('delta', message);
      send(client, text);
    }
  }

  private makeSummary(lag: LagWindow, lagWindow: number): Summary {
    const stats = this.server.engine.stats;
    return {
      deathsPerMin: this.deaths.perMinute(this.server.engine.now()),
      lag,
      lagWindow,
      heartbeats: { sent: stats.pingsSent, received: stats.pongsReceived },
      connections: this.server.connectionCount,
    };
  }

  private onChange(change: StateChange): void {
    if (change.to === 'dead') this.deaths.record(change.cause ?? 'unknown', change.at);
    const event = toTimelineEvent(change, this.server.peers.get(change.peerId)?.reconnects ?? 0);
    if (event === null) return;
    this.ring.push(event);
    if (this.clients.size === 0) return;
    if (this.pending.length < MAX_EVENTS_PER_DELTA) this.pending.push(event);
    else this.skipped++;
    // Catch the kernel's view while the application already suspects the peer.
    if (change.to === 'suspect') void this.readKernel();
  }

  private kernelOf(info: PeerInfo): KernelView | null {
    const k = this.kernel.get(info.sessionId);
    if (k === undefined) return null;
    k.gen = this.kernelGen;
    if (isTerminal(info.state) && !k.view.frozen) k.view = { ...k.view, frozen: true };
    return k.view;
  }

  /** Forgets kernel views of sessions that left the snapshot. */
  private pruneKernel(): void {
    for (const [session, k] of this.kernel) if (k.gen < this.kernelGen - 1) this.kernel.delete(session);
    this.kernelGen++;
  }

  private async readKernel(): Promise<void> {
    const sampler = this.sampler;
    const started = this.server.engine.now();
    if (sampler === null || this.kernelReading || started - this.lastKernelRead < KERNEL_MIN_GAP_MS) return;
    this.kernelReading = true;
    this.lastKernelRead = started;
    // Only peers live when the read began: the table describes them before any ended.
    const live = [...this.server.peers.values()];
    let index: SocketIndex | null = null;
    try {
      index = await sampler.sample();
    } finally {
      this.kernelReading = false;
    }
    if (index === null || this.closed) return;
    for (const peer of live) {
      const remote = parseHostPort(peer.remote);
      if (remote === null) continue;
      let local = this.locals.get(peer) ?? null;
      if (local === null) {
        local = localEndpoint(peer);
        if (local !== null) this.locals.set(peer, local);
      }
      const { ours, theirs } = findConnection(index, remote, local);
      if (ours === null) continue;
      // A peer that ended during the read keeps its earlier view: this one may show our teardown.
      if (isTerminal(peer.state) || this.kernel.get(peer.sessionId)?.view.frozen) continue;
      this.kernel.set(peer.sessionId, { view: kernelView(ours, theirs, started), gen: this.kernelGen });
    }
  }
}
