/**
 * `VigilServer`: accepts TCP and WebSocket connections (plain or TLS), runs the handshake
 * (with an optional authenticate hook), and keeps one `Peer` per client id under the
 * liveness engine; with resume on, a peer's session outlives its transport. Listens on
 * 127.0.0.1 unless told otherwise; every limit has a default; drains gracefully.
 */
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  Connection,
  LivenessEngine,
  backgroundTimeout,
  resolveHiddenTimeout,
  negotiateTiming,
  resolveHeartbeatConfig,
  selectDetector,
  SessionStream,
  type Cause,
  type ConnectionHandlers,
  type DetectorChoice,
  type PeerStatus,
  type SessionChange,
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
  type StatusMessage,
  type WelcomeMessage,
  type WelcomeOptions,
  type Visibility,
} from '@vigil/protocol';
import {
  TcpTransport,
  WsTransport,
  assertKernelOptionsUsable,
  createHttpsListener,
  createTlsListener,
  type KernelSocketOptions,
  type TlsServerOptions,
} from '@vigil/transport';
import { pino, type Logger } from 'pino';
import { Subject, type Observable, type SchedulerLike } from 'rxjs';
import { WebSocketServer, type WebSocket } from 'ws';
import { AUTH_DEFAULTS, runAuthenticate, type AuthOutcome, type Authenticate } from './authenticate.js';
import { resolveDrain, spreadDelays, type DrainOptions, type DrainPlan } from './drain.js';
import { PingStrikes, hostOf, resolveLimits, type ConnectionRateOptions, type RefusalReason, type ServerLimits } from './limits.js';
import { LocalHealth, type LocalHealthOptions, type LocalHealthSnapshot } from './local-health.js';
import { Peer, type PeerInfo } from './peer.js';
import { judgeResume, resolveResume, resumableEnd, type ResumeOptions, type ResumeSettings } from './resume.js';

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
  /**
   * New connections per remote IP address: a token bucket of `burst`, refilled at
   * `perSecond`; beyond it a connection is refused with close 4009. False turns it off.
   * Default 100 per second, burst 200.
   */
  readonly connectionRate?: ConnectionRateOptions | false;
  /**
   * Bytes a connection may hold unsent: a client that stops reading (its TCP window fills)
   * is declared dead with cause `slow-consumer` and close 4005 once its backlog passes
   * this. At least `maxFrameBytes`. Default 8 MiB.
   */
  readonly maxSendBufferBytes?: number;
  /**
   * Least ms between a client's own pings, advertised in `welcome.options.minPingInterval`;
   * earlier pings are strikes. 0 turns the policy off. Default 1000.
   */
  readonly minPingIntervalMs?: number;
  /** Early pings tolerated in a row; the next earns goaway and close 4006 (`too-many-pings`). Default 2. */
  readonly maxPingStrikes?: number;
  /**
   * Checks each `hello` (its `options.token`) before `welcome`; may be async. A refusal
   * closes with 4003 and its reason. See docs/resilience.md. Default: everyone may connect.
   */
  readonly authenticate?: Authenticate;
  /** Ms the `authenticate` hook has; past it the client gets close 1011 and retries. Default 2000. */
  readonly authTimeoutMs?: number;
  /**
   * Session resume: a client whose transport fails may come back within `windowMs` and
   * carry on in the same session, both sides replaying what the other missed (no loss, no
   * duplicate). `true` takes the defaults (30 s, 1024 messages, 1 MiB). Default: off.
   */
  readonly resume?: ResumeOptions | boolean;
  /** TLS (PEM `cert` and `key`) for the TCP listener (`tls://`) and the server's own WebSocket listener (`wss://`). Default: plaintext. */
  readonly tls?: TlsServerOptions;
  /**
   * Background mode: a client that reports its page `hidden`, `frozen` or `offline` (a
   * `status` message; browser clients do) is declared dead only after this many ms of
   * silence, not its normal timeout; `visible` restores the normal timing. Never below the
   * peer's own timeout; 0 ignores `status`. See docs/browser.md. Default 60000.
   */
  readonly hiddenTimeoutMs?: number;
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

/** A peer's page visibility, as its `status` message reported it. */
export interface PeerVisibility<Out> {
  readonly peer: Peer<Out>;
  readonly visibility: Visibility;
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
  private readonly limits: ServerLimits;
  private readonly resume: ResumeSettings | null;
  /** Sessions by id while resumable (attached or detached), with resume on. */
  private readonly sessions = new Map<string, Peer<Out>>();
  private readonly expiries = new Map<Peer<Out>, WheelTimer>();
  private readonly sessionSubject = new Subject<SessionChange>();
  private readonly retainEndedMs: number;
  private readonly lingerMs: number;
  private readonly hiddenTimeoutMs: number;
  private readonly visibilitySubject = new Subject<PeerVisibility<Out>>();
  /** Non-visible pages by peer: kept across a resume, which also keeps the stretched timeout. */
  private readonly visibilities = new WeakMap<Peer<Out>, Visibility>();
  private tcpServer: TcpServer | null = null;
  private wsServer: WebSocketServer | null = null;
  private ownHttp: HttpServer | HttpsServer | null = null;
  private attached: { server: HttpServer; listener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void } | null = null;
  private open = 0;
  private nextAnonymous = 1;
  private closing: Promise<void> | null = null;
  private readonly localHealth: LocalHealth;
  /** Counters for metrics; monotonically increasing. */
  readonly counters = {
    accepted: 0,
    refused: 0,
    ended: new Map<string, number>(),
    /** Refusals by reason (`vigil_connections_refused_total`). */
    refusedBy: new Map<RefusalReason, number>(),
    /** Early client pings (`vigil_ping_strikes_total`). */
    pingStrikes: 0,
    /** `goaway`s sent, by reason: `draining`, `too-many-pings`. */
    goaways: new Map<string, number>(),
    /** Resume requests by result: `resumed`, `unknown-session`, `not-resumable`, `other-peer`, `rejected`. */
    resumes: new Map<string, number>(),
    /** Detached sessions that ended without being resumed, by cause. */
    sessionsLost: new Map<string, number>(),
    /** Sessions whose replay buffer passed its bound. */
    replayOverflows: 0,
  };

  constructor(private readonly options: VigilServerOptions = {}) {
    this.config = resolveHeartbeatConfig(options.heartbeat);
    this.host = options.host ?? '127.0.0.1';
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isInteger(this.maxFrameBytes) || this.maxFrameBytes < 64 || this.maxFrameBytes > MAX_FRAME_BYTES_LIMIT) {
      throw new ConfigError('maxFrameBytes', `must be an integer between 64 and ${MAX_FRAME_BYTES_LIMIT}, got ${String(options.maxFrameBytes)}`);
    }
    this.limits = resolveLimits(options, this.maxFrameBytes);
    this.resume = resolveResume(options.resume);
    if (options.authTimeoutMs !== undefined && !(Number.isInteger(options.authTimeoutMs) && options.authTimeoutMs > 0)) {
      throw new ConfigError('authTimeoutMs', `must be a positive integer number of ms, got ${String(options.authTimeoutMs)}`);
    }
    this.retainEndedMs = options.retainEndedMs ?? 60_000;
    this.lingerMs = options.lingerMs ?? 2000;
    this.hiddenTimeoutMs = resolveHiddenTimeout(options.hiddenTimeoutMs);
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

  /** Every session's state changes: `detached` and `attached` again (a resume) with resume on, and `ended` for each peer. */
  get sessionChanges$(): Observable<SessionChange> {
    return this.sessionSubject.asObservable();
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
      const tls = this.options.tls;
      const server = tls
        ? createTlsListener(tls, this.config.handshakeTimeoutMs, (socket) => this.acceptTcp(socket), () => this.countRefusal('tls-error'))
        : createTcpServer({ noDelay: true }, (socket) => this.acceptTcp(socket));
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
        const upgradeRequired = (_req: IncomingMessage, res: ServerResponse): void => {
          res.writeHead(426, { 'content-type': 'text/plain' }).end('Vigil WebSocket endpoint: upgrade required\n');
        };
        const tls = this.options.tls;
        const http = tls
          ? createHttpsListener(tls, this.config.handshakeTimeoutMs, upgradeRequired, () => this.countRefusal('tls-error'))
          : createHttpServer(upgradeRequired);
        // The hello deadline starts at the upgrade; bound the HTTP phase before it by the same
        // handshakeTimeoutMs, or an idle socket here lives until Node's 60 s headersTimeout.
        const deadlines = new WeakMap<Duplex, WheelTimer>();
        // Over TLS the upgrade arrives on the TLS socket; its handshake is bounded by the listener.
        http.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
          const deadline = this.upgradeDeadline(socket);
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

  /**
   * Destroys `socket` unless it upgrades within `handshakeTimeoutMs`. As for a peer's
   * silence, a stall of ours does not count against it (up to one more timeout): Node runs
   * the expired timer before it reads the request that is already waiting.
   */
  private upgradeDeadline(socket: Socket): WheelTimer {
    const { wheel, stalls } = this.engine;
    const limit = this.config.handshakeTimeoutMs;
    const startedAt = this.engine.now();
    let excused = 0;
    const deadline = wheel.timer(() => {
      const credit = Math.min(stalls?.creditSince(startedAt) ?? 0, limit);
      if (credit <= excused) {
        socket.destroy();
        return;
      }
      excused = credit;
      deadline.schedule(Math.max(startedAt + limit + credit, this.engine.now() + wheel.tickMs));
    });
    deadline.schedule(startedAt + limit);
    return deadline;
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
   * After `drain()`, resolves when the drain does.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown(null);
    return this.closing;
  }

  /**
   * Graceful drain for a deploy: stops accepting, sends each live client a `goaway` with
   * its own reconnect delay, spread evenly with jitter over `windowMs` (so clients return
   * to the next server in a smooth wave), closes each in order, and destroys whatever
   * transport has not ended `deadlineMs` after the start. Detached sessions end (`goaway`).
   * @throws ConfigError for a negative or non-integer window or deadline.
   */
  drain(options: DrainOptions = {}): Promise<void> {
    const plan = resolveDrain(options, this.lingerMs);
    this.closing ??= this.shutdown(plan);
    return this.closing;
  }

  private async shutdown(drain: DrainPlan | null): Promise<void> {
    this.localHealth.stop();
    const stopped: Promise<void>[] = [];
    if (this.tcpServer) stopped.push(closeServer(this.tcpServer));
    if (this.ownHttp) stopped.push(closeServer(this.ownHttp));
    if (this.attached) this.attached.server.off('upgrade', this.attached.listener);
    const ends: Promise<unknown>[] = [];
    const transports: Transport[] = [];
    for (const c of [...this.pending]) {
      ends.push(c.transport.closed);
      transports.push(c.transport);
      c.close(CloseCode.GoingAway, 'server shutting down');
    }
    const peers = [...this.live.values()];
    const leaving = drain ? peers.filter((p) => p.sessionState === 'attached') : [];
    const delays = drain ? spreadDelays(leaving.length, drain.windowMs, this.engine.random) : [];
    for (const [i, peer] of leaving.entries()) {
      const connection = peer.connection;
      ends.push(connection.transport.closed);
      transports.push(connection.transport);
      this.goaway(connection, CloseCode.GoingAway, delays[i]!, drain!.reason, 'draining');
      connection.close(CloseCode.GoingAway, drain!.reason, 'goaway');
    }
    for (const peer of peers) {
      if (peer.sessionState === 'detached') this.endSession(peer, drain ? 'goaway' : 'local-close');
      else if (drain === null) {
        ends.push(peer.connection.transport.closed);
        peer.close(CloseCode.GoingAway, 'server shutting down');
      }
    }
    if (drain) {
      await this.within(Promise.all(ends), drain.deadlineMs);
      // The deadline: what has not closed its side by now is destroyed.
      for (const t of transports) t.destroy('goaway');
    }
    await Promise.all(ends);
    this.wsServer?.close();
    this.ownHttp?.closeAllConnections();
    await Promise.all(stopped);
    this.connectionSubject.complete();
    this.messageSubject.complete();
    this.sessionSubject.complete();
    this.visibilitySubject.complete();
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
    this.countRefusal('kernel-options');
    this.logger.error({ remote, err: error instanceof Error ? error.message : String(error) }, 'kernel socket options failed; connection refused');
    destroy();
  }

  /** Why a new transport is refused before its handshake, or null to take it. */
  private refusal(transport: Transport): [code: number, reason: string, why: RefusalReason] | null {
    if (this.closing !== null) return [CloseCode.GoingAway, 'server shutting down', 'shutting-down'];
    if (this.open >= this.limits.maxConnections) return [CloseCode.ServerFull, 'server full', 'server-full'];
    const rate = this.limits.connectionRate;
    if (rate !== null && !rate.take(hostOf(transport.remote), this.engine.now())) return [CloseCode.RateLimited, 'rate-limited: too many connections from this address', 'rate-limited'];
    return null;
  }

  private countRefusal(why: RefusalReason): void {
    this.counters.refused++;
    bump(this.counters.refusedBy, why);
  }

  private accept(transport: Transport): void {
    const refusal = this.refusal(transport);
    if (refusal !== null) {
      const [code, reason, why] = refusal;
      this.countRefusal(why);
      transport.send(encodeMessage({ type: MessageType.Close, code, reason }));
      transport.close(code, reason);
      return;
    }
    this.open++;
    this.counters.accepted++;
    const handlers = new AcceptedConnection(this, transport);
    const connection: Connection = new Connection(
      this.engine,
      transport,
      handlers,
      this.config.handshakeTimeoutMs,
      transport.remote,
      { maxBufferedBytes: this.limits.maxSendBufferBytes },
    );
    handlers.connection = connection;
    if (!connection.ended) this.pending.add(connection);
  }

  /** An accepted connection reached `dead` or `closed` (its handlers' `ended`). */
  private acceptedEnded(connection: Connection | null, transport: Transport, peer: Peer<Out> | null, status: PeerStatus): void {
    this.open--;
    if (connection !== null) this.pending.delete(connection);
    const cause = status.cause ?? 'unknown';
    bump(this.counters.ended, cause);
    if (peer && connection !== null) this.connectionEnded(peer, connection, status.cause);
    else this.logger.debug({ remote: transport.remote, cause, error: connection?.error?.message }, 'connection ended before handshake');
  }

  /** Page visibility changes that peers report (browser clients), as they arrive. */
  get visibility$(): Observable<PeerVisibility<Out>> {
    return this.visibilitySubject.asObservable();
  }

  /** The page visibility `peer` last reported in its session (across resumes); `visible` if it never did. */
  visibilityOf(peer: Peer<Out>): Visibility {
    return this.visibilities.get(peer) ?? 'visible';
  }

  /** A `status` message: background mode stretches the peer's timeout (bounded) until it is visible again. */
  private reportedVisibility(peer: Peer<Out>, connection: Connection, visibility: Visibility): void {
    if (this.hiddenTimeoutMs === 0 || peer.connection !== connection) return;
    const timing = connection.monitor.peerTiming;
    if (timing === null) return;
    const previous = this.visibilityOf(peer);
    connection.monitor.setBackground(backgroundTimeout(visibility, timing, this.hiddenTimeoutMs));
    if (visibility === 'visible') this.visibilities.delete(peer);
    else this.visibilities.set(peer, visibility);
    if (previous === visibility) return;
    peer.logger.debug({ visibility, previous, timeoutMs: connection.monitor.backgroundTimeoutMs || timing.timeoutMs }, 'page visibility');
    this.visibilitySubject.next({ peer, visibility });
  }

  /** A client ping: early ones are strikes; past the allowance, goaway `too-many-pings` and close 4006 (gRPC core's policy). */
  private pingPolicy(connection: Connection, strikes: PingStrikes): void {
    const verdict = strikes.observe(this.engine.now());
    if (verdict === 'ok') return;
    this.counters.pingStrikes++;
    if (verdict === 'strike') return;
    this.goaway(connection, CloseCode.TooManyPings, Math.max(1000, 2 * this.limits.minPingIntervalMs), 'too-many-pings', 'too-many-pings');
    connection.close(CloseCode.TooManyPings, 'too-many-pings', 'too-many-pings');
  }

  private goaway(connection: Connection, code: number, reconnectDelay: number, reason: string, why: string): void {
    bump(this.counters.goaways, why);
    connection.sendMessage({ type: MessageType.GoAway, code, reconnectDelay, reason });
  }

  private handshake(connection: Connection, m: HelloMessage | WelcomeMessage, bind: (peer: Peer<Out>) => void): void {
    if (m.type !== MessageType.Hello) throw new ProtocolError(ErrorCode.UnexpectedMessage, 'expected hello');
    if (m.version !== PROTOCOL_VERSION) {
      this.countRefusal('version-mismatch');
      throw new ProtocolError(ErrorCode.VersionMismatch, `protocol version ${m.version} is not supported (server speaks ${PROTOCOL_VERSION})`, CloseCode.VersionMismatch);
    }
    const hook = this.options.authenticate;
    if (hook === undefined) {
      const peer = this.admit(connection, m, { ok: true });
      if (peer) bind(peer);
      return;
    }
    const info = { remote: connection.transport.remote, transport: connection.transport.kind };
    void runAuthenticate(hook, m, info, this.options.authTimeoutMs ?? AUTH_DEFAULTS.timeoutMs, this.engine.scheduler).then((outcome) => {
      if (connection.ended) return;
      if (!outcome.ok) {
        this.countRefusal(outcome.kind);
        this.logger.debug({ remote: info.remote, code: outcome.code, reason: outcome.reason }, 'hello refused by authenticate');
        connection.close(outcome.code, outcome.reason, 'rejected');
        return;
      }
      const peer = this.admit(connection, m, outcome);
      if (peer) bind(peer);
    });
  }

  /** Completes a handshake: resumes the session `hello` names if it may, else starts a new one. Null when refused. */
  private admit(connection: Connection, m: HelloMessage, auth: AuthOutcome & { ok: true }): Peer<Out> | null {
    const requested = auth.peerId ?? m.clientId;
    const timing = negotiateTiming(this.config, m.options.interval);
    const request = this.resume === null ? undefined : m.options.resume;
    let resumeRefused = false;
    if (request !== undefined && request.session !== '') {
      const held = this.sessions.get(request.session);
      const verdict = judgeResume(request, held && { id: held.id, stream: held.stream, ended: held.sessionState === 'ended' }, requested);
      const result = verdict.kind === 'fresh' ? verdict.why : verdict.kind === 'resume' ? 'resumed' : 'rejected';
      bump(this.counters.resumes, result);
      if (verdict.kind === 'reject') {
        this.countRefusal('resume-rejected');
        connection.close(CloseCode.ResumeRejected, verdict.reason, 'rejected');
        return null;
      }
      if (verdict.kind === 'resume' && held !== undefined) {
        this.resumeSession(held, connection, request.ack, timing);
        return held;
      }
      resumeRefused = true;
    }
    const id = requested === '' ? `anon-${this.nextAnonymous++}` : requested;
    const previous = this.live.get(id);
    if (previous?.sessionState === 'detached') this.endSession(previous, 'replaced');
    else if (previous) previous.connection.close(CloseCode.Replaced, 'replaced by a newer session', 'replaced');
    const reconnects = this.sessionsById.get(id) ?? 0;
    this.sessionsById.set(id, reconnects + 1);
    if (this.sessionsById.size > RETAIN_LIMIT * 2) this.sessionsById.delete(this.sessionsById.keys().next().value!);
    const sessionId = randomUUID();
    const stream = new SessionStream(this.resume?.replay ?? null);
    connection.attach(stream);
    const peer = new Peer<Out>(id, sessionId, connection, this.engine.now(), reconnects, this.rootLogger);
    if (auth.meta) for (const [key, value] of Object.entries(auth.meta)) peer.meta.set(key, value);
    if (this.resume !== null) {
      this.sessions.set(sessionId, peer);
      stream.onOverflow = () => this.replayOverflow(peer);
      peer.endDetached = (cause) => this.endSession(peer, cause);
    }
    connection.monitor.id = id;
    this.pending.delete(connection);
    this.live.set(id, peer);
    this.welcome(connection, peer, timing, resumeRefused ? false : undefined);
    connection.start(timing, true);
    peer.logger.debug({ transport: peer.transport, remote: peer.remote, intervalMs: timing.intervalMs }, 'peer joined');
    this.connectionSubject.next(peer);
    return peer;
  }

  private welcome(connection: Connection, peer: Peer<Out>, timing: { intervalMs: number; timeoutMs: number }, resumed: boolean | undefined): void {
    const options: WelcomeOptions = {
      ...(resumed === undefined ? {} : { resumed }),
      ...(this.limits.minPingIntervalMs > 0 ? { minPingInterval: this.limits.minPingIntervalMs } : {}),
      ...(this.resume === null ? {} : { resumeWindow: this.resume.windowMs, ack: peer.stream.inSeq }),
    };
    connection.sendMessage({
      type: MessageType.Welcome,
      version: PROTOCOL_VERSION,
      sessionId: peer.sessionId,
      peerId: peer.id,
      interval: timing.intervalMs,
      timeout: timing.timeoutMs,
      serverTime: Date.now(),
      options,
    });
  }

  /**
   * A resume: the session carries on over `connection`. Any connection still attached is
   * dropped (its client has moved on), the welcome says `resumed` with our ack, then
   * everything after the client's ack is replayed, in order.
   */
  private resumeSession(peer: Peer<Out>, connection: Connection, clientAck: number, timing: { intervalMs: number; timeoutMs: number; suspectAfterMs: number; jitter: number }): void {
    const now = this.engine.now();
    this.expiries.get(peer)?.cancel();
    this.expiries.delete(peer);
    const old = peer.connection;
    peer.rebind(connection);
    if (!old.ended) {
      this.emitSession(peer.setSession('detached', 'replaced', now));
      old.kill('replaced', CloseCode.Replaced, 'session resumed on a newer connection');
    }
    connection.monitor.id = peer.id;
    connection.attach(peer.stream);
    this.pending.delete(connection);
    this.welcome(connection, peer, timing, true);
    connection.start(timing, true);
    // A page resuming from the background is still judged by the background bound until it says otherwise.
    const hidden = this.visibilities.get(peer);
    if (hidden !== undefined) connection.monitor.setBackground(backgroundTimeout(hidden, timing, this.hiddenTimeoutMs));
    this.emitSession(peer.setSession('attached', null, now));
    const replayed = connection.replayFrom(clientAck);
    peer.logger.debug({ transport: peer.transport, remote: peer.remote, replayed, resumes: peer.resumes }, 'session resumed');
  }

  /** A peer's connection ended: its session detaches if it may be resumed, else ends. */
  private connectionEnded(peer: Peer<Out>, connection: Connection, cause: Cause | null): void {
    // Superseded by a resume on a newer connection: the session lives on there.
    if (peer.connection !== connection) return;
    const resume = this.resume;
    if (resume !== null && this.closing === null && peer.sessionState === 'attached' && peer.resumable && resumableEnd(cause, connection.peerClose?.code)) {
      const now = this.engine.now();
      this.emitSession(peer.setSession('detached', cause, now));
      const expiry = this.engine.wheel.timer(() => this.endSession(peer, 'resume-expired'));
      expiry.schedule(now + resume.windowMs);
      this.expiries.set(peer, expiry);
      peer.logger.debug({ cause, windowMs: resume.windowMs, backlog: peer.backlog }, 'session detached; held for resume');
      return;
    }
    this.endSession(peer, cause);
  }

  /** Ends a session for good (idempotent) and retires its peer. */
  private endSession(peer: Peer<Out>, cause: Cause | null): void {
    this.expiries.get(peer)?.cancel();
    this.expiries.delete(peer);
    const wasDetached = peer.sessionState === 'detached';
    const change = peer.setSession('ended', cause, this.engine.now());
    if (change === null) return;
    if (wasDetached) bump(this.counters.sessionsLost, cause ?? 'unknown');
    this.sessions.delete(peer.sessionId);
    this.emitSession(change);
    this.retire(peer);
  }

  private emitSession(change: SessionChange | null): void {
    if (change !== null) this.sessionSubject.next(change);
  }

  /** A session's replay buffer passed its bound: it can no longer be resumed (and a detached one ends now). */
  private replayOverflow(peer: Peer<Out>): void {
    this.counters.replayOverflows++;
    peer.logger.warn({ backlogBound: this.resume?.replay }, 'replay buffer bound passed; session no longer resumable');
    if (peer.sessionState === 'detached') this.endSession(peer, 'resume-overflow');
  }

  private within(promise: Promise<unknown>, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.engine.scheduler.schedule(() => resolve(), ms);
      void promise.then(() => {
        timer.unsubscribe();
        resolve();
      });
    });
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

/** Adds one to `key`'s count in one of the server's `counters` maps. */
function bump<K>(counts: Map<K, number>, key: K): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
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

/**
 * The server's handlers for one accepted connection: one small object with prototype
 * methods instead of six closures and their shared context per connection (a heap
 * snapshot put those at ~0.45 KB per peer). Reaches the server's private members by
 * element access: it is the server's own per-connection part, kept out of its class body.
 */
class AcceptedConnection<In, Out> implements ConnectionHandlers {
  /** Set right after the connection is constructed. */
  connection: Connection | null = null;
  /** Set once the handshake admits the peer. */
  peer: Peer<Out> | null = null;
  private strikes: PingStrikes | null = null;

  constructor(
    private readonly server: VigilServer<In, Out>,
    private readonly transport: Transport,
  ) {}

  handshake(m: HelloMessage | WelcomeMessage): void {
    this.server['handshake'](this.connection!, m, (p) => (this.peer = p));
  }

  rtt(ms: number): void {
    this.server['rttSubject'].next(ms);
  }

  status(m: StatusMessage): void {
    if (this.peer) this.server['reportedVisibility'](this.peer, this.connection!, m.visibility);
  }

  data(body: unknown): void {
    if (this.peer) this.server['messageSubject'].next({ peer: this.peer, message: body as In });
  }

  ping(): void {
    const limits = this.server['limits'];
    this.strikes ??= new PingStrikes(limits.minPingIntervalMs, limits.maxPingStrikes);
    this.server['pingPolicy'](this.connection!, this.strikes);
  }

  ended(status: PeerStatus): void {
    this.server['acceptedEnded'](this.connection, this.transport, this.peer, status);
  }
}
