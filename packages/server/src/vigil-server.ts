/**
 * `VigilServer`: accepts TCP and WebSocket connections, runs the handshake, and
 * keeps one `Peer` per client id under the liveness engine. Listens on 127.0.0.1
 * unless told otherwise; every limit has a default.
 */
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  Connection,
  LivenessEngine,
  negotiateTiming,
  resolveHeartbeatConfig,
  selectDetector,
  type DetectorChoice,
  type PhiAccrualOptions,
  type StallGuardOptions,
  type HeartbeatConfig,
  type HeartbeatOptions,
  type StateChange,
  type Transport,
  type WheelTimer,
} from '@vigil/core';
import {
  CloseCode,
  ConfigError,
  DEFAULT_MAX_FRAME_BYTES,
  ErrorCode,
  MAX_FRAME_BYTES_LIMIT,
  MessageType,
  PROTOCOL_VERSION,
  ProtocolError,
  WS_SUBPROTOCOL,
  encodeMessage,
  type HelloMessage,
  type WelcomeMessage,
} from '@vigil/protocol';
import { TcpTransport, WsTransport, assertKernelOptionsUsable, type KernelSocketOptions } from '@vigil/transport';
import { pino, type Logger } from 'pino';
import { Subject, type Observable, type SchedulerLike } from 'rxjs';
import { WebSocketServer, type WebSocket } from 'ws';
import { LocalHealth, type LocalHealthOptions, type LocalHealthSnapshot } from './local-health.js';
import { Peer, type PeerInfo } from './peer.js';

export interface ListenOptions {
  /** Port; 0 picks a free one. */
  readonly port: number;
  /** Interface to bind. Default: the server's `host`. */
  readonly host?: string;
}

export interface AttachOptions {
  /** An existing HTTP server to take WebSocket upgrades from. */
  readonly server: HttpServer;
  /** Only upgrades on this path are taken. Default: every path. */
  readonly path?: string;
}

export interface VigilServerOptions {
  /** Interface to bind. Default '127.0.0.1' (loopback only). */
  readonly host?: string;
  /** Length-prefixed TCP listener. */
  readonly tcp?: ListenOptions;
  /** WebSocket listener on its own port, or attached to an existing HTTP server. */
  readonly ws?: ListenOptions | AttachOptions;
  readonly heartbeat?: HeartbeatOptions;
  /** Largest accepted payload, bytes. Default 1 MiB. */
  readonly maxFrameBytes?: number;
  /** Most simultaneous connections (handshaking or live); more are refused with close 4008. Default 20000. */
  readonly maxConnections?: number;
  /** Ms dead or closed peers stay listed in `snapshot()`. Default 60000. */
  readonly retainEndedMs?: number;
  /** Ms to wait for a client to close its side after an orderly close. Default 2000. */
  readonly lingerMs?: number;
  /** Failure detector per peer: `'fixed'` (suspect/timeout), `'phi'` (phi accrual) or a factory. Default `'fixed'`. */
  readonly detector?: DetectorChoice;
  /** Phi accrual thresholds and window, with `detector: 'phi'`. Defaults: `PHI_DEFAULTS` (docs/detectors.md). */
  readonly phi?: PhiAccrualOptions;
  /**
   * Own-stall awareness (every detector): silence our own stalls explain is not held
   * against peers, and peers are re-probed after a stall. False judges raw silence. Default: on.
   */
  readonly stallGuard?: StallGuardOptions | false;
  /** The process probe feeding the stall guard and `health()`; false turns it off. Default: on unless a `scheduler` is given. */
  readonly localHealth?: LocalHealthOptions | false;
  /** Scheduler for every timer and the clock. Default: async scheduler, monotonic clock. */
  readonly scheduler?: SchedulerLike;
  /** Logger; the server only makes child loggers. Default: silent. */
  readonly logger?: Logger;
  /**
   * Kernel options for every accepted socket (TCP, and the socket under each WebSocket):
   * keepalive idle/interval/count, TCP_USER_TIMEOUT, TCP_NODELAY, set and verified after
   * accept. See docs/kernel-vs-app.md. Default: none.
   */
  readonly kernel?: KernelSocketOptions;
}

/** Ports actually bound (after port 0 was resolved). */
export interface ServerAddresses {
  readonly tcp?: number;
  readonly ws?: number;
}

/** An application message from a peer. */
export interface PeerMessage<In, Out> {
  readonly peer: Peer<Out>;
  readonly message: In;
}

const RETAIN_LIMIT = 10_000;
const EVENT_LOG_LIMIT = 1000;

function isAttach(o: ListenOptions | AttachOptions): o is AttachOptions {
  return 'server' in o;
}

export class VigilServer<In = unknown, Out = unknown> {
  readonly config: HeartbeatConfig;
  readonly engine: LivenessEngine;
  readonly logger: Logger;
  private readonly rootLogger: Logger;
  /** Every peer's state changes. */
  readonly changes$: Observable<StateChange>;
  private readonly live = new Map<string, Peer<Out>>();
  private readonly pending = new Set<Connection>();
  private readonly retired = new Map<string, { info: PeerInfo; until: number }>();
  private readonly sessionsById = new Map<string, number>();
  private readonly events: StateChange[] = [];
  private readonly connectionSubject = new Subject<Peer<Out>>();
  private readonly messageSubject = new Subject<PeerMessage<In, Out>>();
  private readonly rttSubject = new Subject<number>();
  /** Every RTT sample (ms) from every peer's pongs. */
  readonly rttSamples$: Observable<number> = this.rttSubject.asObservable();
  private readonly host: string;
  private readonly maxFrameBytes: number;
  private readonly maxConnections: number;
  private readonly retainEndedMs: number;
  private readonly lingerMs: number;
  private tcpServer: TcpServer | null = null;
  private wsServer: WebSocketServer | null = null;
  private ownHttp: HttpServer | null = null;
  private attached: { server: HttpServer; listener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void } | null = null;
  private open = 0;
  private nextAnonymous = 1;
  private closing: Promise<void> | null = null;
  private readonly localHealth: LocalHealth;
  /** Counters for metrics; monotonically increasing. */
  readonly counters = { accepted: 0, refused: 0, ended: new Map<string, number>() };

  constructor(private readonly options: VigilServerOptions = {}) {
    this.config = resolveHeartbeatConfig(options.heartbeat);
    this.host = options.host ?? '127.0.0.1';
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isInteger(this.maxFrameBytes) || this.maxFrameBytes < 64 || this.maxFrameBytes > MAX_FRAME_BYTES_LIMIT) {
      throw new ConfigError('maxFrameBytes', `must be an integer between 64 and ${MAX_FRAME_BYTES_LIMIT}, got ${String(options.maxFrameBytes)}`);
    }
    this.maxConnections = options.maxConnections ?? 20_000;
    if (!Number.isInteger(this.maxConnections) || this.maxConnections < 1) {
      throw new ConfigError('maxConnections', `must be a positive integer, got ${String(options.maxConnections)}`);
    }
    this.retainEndedMs = options.retainEndedMs ?? 60_000;
    this.lingerMs = options.lingerMs ?? 2000;
    if (!options.tcp && !options.ws) throw new ConfigError('tcp', 'at least one of tcp or ws must be configured');
    if (options.kernel) assertKernelOptionsUsable(options.kernel);
    this.rootLogger = options.logger ?? pino({ level: 'silent' });
    this.logger = this.rootLogger.child({ component: 'vigil-server' });
    this.engine = new LivenessEngine({
      tickMs: this.config.tickMs,
      ...(options.scheduler ? { scheduler: options.scheduler } : {}),
      detector: selectDetector(options.detector, options.phi),
      ...(options.stallGuard !== undefined ? { stallGuard: options.stallGuard } : {}),
    });
    this.localHealth = new LocalHealth(this.engine.stalls, () => this.engine.now(), this.engine.stats, options.localHealth || {});
    this.engine.stalls?.onStall((stall) => {
      const ms = Math.round(stall.to - stall.from);
      // A stall long enough to have made peers suspect is worth an operator's attention.
      this.logger[ms >= this.config.suspectAfterMs ? 'warn' : 'debug']({ stallMs: ms, source: stall.source }, 'this process stalled; peers not blamed for it');
    });
    this.changes$ = this.engine.changes$;
    this.engine.changes$.subscribe((change) => this.record(change));
  }

  /** Peers that completed the handshake (live or ending), emitted once each. */
  get connections$(): Observable<Peer<Out>> {
    return this.connectionSubject.asObservable();
  }

  /** Application messages from every peer. */
  get messages$(): Observable<PeerMessage<In, Out>> {
    return this.messageSubject.asObservable();
  }

  /** Live peers by id. */
  get peers(): ReadonlyMap<string, Peer<Out>> {
    return this.live;
  }

  /** Open transports, handshaking or live. */
  get connectionCount(): number {
    return this.open;
  }

  /** This process's own health: event-loop lag, stalls seen, peers re-probed after one. */
  health(): LocalHealthSnapshot {
    return this.localHealth.snapshot();
  }

  /** Starts listening; resolves with the ports bound. */
  async listen(): Promise<ServerAddresses> {
    if (this.options.localHealth !== false && this.options.scheduler === undefined) this.localHealth.start();
    const out: { tcp?: number; ws?: number } = {};
    const { tcp, ws } = this.options;
    if (tcp) {
      const server = createTcpServer({ noDelay: true }, (socket) => this.acceptTcp(socket));
      this.tcpServer = server;
      out.tcp = await listenOn(server, tcp.port, tcp.host ?? this.host);
    }
    if (ws) {
      const wss = new WebSocketServer({
        noServer: true,
        maxPayload: this.maxFrameBytes,
        handleProtocols: (protocols) => (protocols.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : false),
      });
      this.wsServer = wss;
      const path = isAttach(ws) ? ws.path : undefined;
      const listener = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
        if (path !== undefined && new URL(req.url ?? '/', 'http://x').pathname !== path) return;
        wss.handleUpgrade(req, socket, head, (client) => this.acceptWs(client, req));
      };
      if (isAttach(ws)) {
        ws.server.on('upgrade', listener);
        this.attached = { server: ws.server, listener };
      } else {
        const http = createHttpServer((_req, res) => {
          res.writeHead(426, { 'content-type': 'text/plain' }).end('Vigil WebSocket endpoint: upgrade required\n');
        });
        // The hello deadline starts at the upgrade; bound the HTTP phase before it by the same
        // handshakeTimeoutMs, or an idle socket here lives until Node's 60 s headersTimeout.
        const deadlines = new WeakMap<Duplex, WheelTimer>();
        http.on('connection', (socket: Socket) => {
          const deadline = this.engine.wheel.timer(() => socket.destroy());
          deadline.schedule(this.engine.now() + this.config.handshakeTimeoutMs);
          deadlines.set(socket, deadline);
          socket.once('close', () => deadline.cancel());
        });
        http.on('upgrade', (_req: IncomingMessage, socket: Duplex) => deadlines.get(socket)?.cancel());
        http.on('upgrade', listener);
        this.ownHttp = http;
        out.ws = await listenOn(http, ws.port, ws.host ?? this.host);
      }
    }
    this.logger.info(out, 'listening');
    return out;
  }

  /** Sends one message to every live peer; returns how many accepted it. */
  broadcast(message: Out): number {
    let sent = 0;
    for (const peer of this.live.values()) if (peer.send(message)) sent++;
    return sent;
  }

  /** Live peers and those ended within `retainEndedMs`, for `/api/peers`. */
  snapshot(): PeerInfo[] {
    const now = this.engine.now();
    this.pruneRetired(now);
    const out: PeerInfo[] = [];
    for (const peer of this.live.values()) out.push(peer.info(now));
    for (const r of this.retired.values()) out.push(r.info);
    return out;
  }

  /** The most recent state changes (up to 1000), oldest first. */
  recentEvents(): readonly StateChange[] {
    return this.events.slice(-EVENT_LOG_LIMIT);
  }

  /**
   * Stops accepting, closes every connection in order (a `close` with 1001 then
   * half-close), and resolves once all transports have ended (at most `lingerMs`).
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.localHealth.stop();
    const stopped: Promise<void>[] = [];
    if (this.tcpServer) stopped.push(closeServer(this.tcpServer));
    if (this.ownHttp) stopped.push(closeServer(this.ownHttp));
    if (this.attached) this.attached.server.off('upgrade', this.attached.listener);
    const ends: Promise<unknown>[] = [];
    for (const c of [...this.pending]) {
      ends.push(c.transport.closed);
      c.close(CloseCode.GoingAway, 'server shutting down');
    }
    for (const peer of [...this.live.values()]) {
      ends.push(peer.connection.transport.closed);
      peer.close(CloseCode.GoingAway, 'server shutting down');
    }
    await Promise.all(ends);
    this.wsServer?.close();
    this.ownHttp?.closeAllConnections();
    await Promise.all(stopped);
    this.connectionSubject.complete();
    this.messageSubject.complete();
  }

  private acceptTcp(socket: Socket): void {
    let transport: TcpTransport;
    try {
      transport = new TcpTransport(socket, { maxFrameBytes: this.maxFrameBytes, lingerMs: this.lingerMs, ...this.kernelOptions() });
    } catch (error) {
      this.kernelFailed(error, socket.remoteAddress, () => socket.destroy());
      return;
    }
    this.accept(transport);
  }

  private acceptWs(ws: WebSocket, req: IncomingMessage): void {
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? 0}`;
    let transport: WsTransport;
    try {
      transport = new WsTransport(ws, { remote, lingerMs: this.lingerMs, ...(this.options.kernel ? { socket: req.socket } : {}), ...this.kernelOptions() });
    } catch (error) {
      this.kernelFailed(error, remote, () => ws.terminate());
      return;
    }
    this.accept(transport);
  }

  private kernelOptions(): { kernel?: KernelSocketOptions; onKernelWarning?: (message: string) => void } {
    const kernel = this.options.kernel;
    return kernel ? { kernel, onKernelWarning: (message) => this.logger.warn({ option: message.split(':')[0] }, message) } : {};
  }

  /** A socket whose kernel options could not be set (bestEffort off): refused, not served half-configured. */
  private kernelFailed(error: unknown, remote: string | undefined, destroy: () => void): void {
    this.counters.refused++;
    this.logger.error({ remote, err: error instanceof Error ? error.message : String(error) }, 'kernel socket options failed; connection refused');
    destroy();
  }

  private accept(transport: Transport): void {
    if (this.closing !== null || this.open >= this.maxConnections) {
      this.counters.refused++;
      const [code, reason] = this.closing ? [CloseCode.GoingAway, 'server shutting down'] : [CloseCode.ServerFull, 'server full'];
      transport.send(encodeMessage({ type: MessageType.Close, code, reason }));
      transport.close(code, reason);
      return;
    }
    this.open++;
    this.counters.accepted++;
    let peer: Peer<Out> | null = null;
    const connection: Connection = new Connection(
      this.engine,
      transport,
      {
        handshake: (m) => {
          peer = this.handshake(connection, m);
        },
        rtt: (ms) => this.rttSubject.next(ms),
        data: (body) => {
          if (peer) this.messageSubject.next({ peer, message: body as In });
        },
        ended: (status) => {
          this.open--;
          this.pending.delete(connection);
          const cause = status.cause ?? 'unknown';
          this.counters.ended.set(cause, (this.counters.ended.get(cause) ?? 0) + 1);
          if (peer) this.retire(peer);
          else this.logger.debug({ remote: transport.remote, cause, error: connection.error?.message }, 'connection ended before handshake');
        },
      },
      this.config.handshakeTimeoutMs,
      transport.remote,
    );
    if (!connection.ended) this.pending.add(connection);
  }

  private handshake(connection: Connection, m: HelloMessage | WelcomeMessage): Peer<Out> {
    if (m.type !== MessageType.Hello) throw new ProtocolError(ErrorCode.UnexpectedMessage, 'expected hello');
    if (m.version !== PROTOCOL_VERSION) {
      throw new ProtocolError(ErrorCode.VersionMismatch, `protocol version ${m.version} is not supported (server speaks ${PROTOCOL_VERSION})`, CloseCode.VersionMismatch);
    }
    const id = m.clientId === '' ? `anon-${this.nextAnonymous++}` : m.clientId;
    const previous = this.live.get(id);
    if (previous) previous.connection.close(CloseCode.Replaced, 'replaced by a newer session', 'replaced');
    const reconnects = this.sessionsById.get(id) ?? 0;
    this.sessionsById.set(id, reconnects + 1);
    if (this.sessionsById.size > RETAIN_LIMIT * 2) this.sessionsById.delete(this.sessionsById.keys().next().value!);
    const timing = negotiateTiming(this.config, m.options.interval);
    const sessionId = randomUUID();
    const peer = new Peer<Out>(id, sessionId, connection, this.engine.now(), reconnects, this.rootLogger);
    connection.monitor.id = id;
    this.pending.delete(connection);
    this.live.set(id, peer);
    connection.sendMessage({
      type: MessageType.Welcome,
      version: PROTOCOL_VERSION,
      sessionId,
      peerId: id,
      interval: timing.intervalMs,
      timeout: timing.timeoutMs,
      serverTime: Date.now(),
      options: {},
    });
    connection.start(timing, true);
    peer.logger.debug({ transport: peer.transport, remote: peer.remote, intervalMs: timing.intervalMs }, 'peer joined');
    this.connectionSubject.next(peer);
    return peer;
  }

  private retire(peer: Peer<Out>): void {
    if (this.live.get(peer.id) === peer) this.live.delete(peer.id);
    const now = this.engine.now();
    const info = peer.info(now);
    this.retired.set(peer.sessionId, { info, until: now + this.retainEndedMs });
    this.pruneRetired(now);
    const level = info.state === 'dead' ? 'info' : 'debug';
    peer.logger[level]({ state: info.state, cause: info.cause, silenceMs: info.lastSeenMs }, 'peer ended');
  }

  private pruneRetired(now: number): void {
    for (const [key, r] of this.retired) {
      if (r.until > now && this.retired.size <= RETAIN_LIMIT) break;
      this.retired.delete(key);
    }
  }

  private record(change: StateChange): void {
    this.events.push(change);
    if (this.events.length >= 2 * EVENT_LOG_LIMIT) this.events.splice(0, this.events.length - EVENT_LOG_LIMIT);
  }
}

function listenOn(server: TcpServer | HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: TcpServer | HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
