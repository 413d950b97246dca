/**
 * `VigilClient`: one logical session with a Vigil server over `tcp://`, `tls://`, `ws://`
 * or `wss://`. Answers the server's pings, watches for a silent server (interval +
 * timeout), learns RTT and clock offset, and reconnects with exponential backoff and full
 * jitter until closed or refused for good. When the server offers resume, it keeps what
 * the server has not acknowledged, queues sends while reconnecting, and resumes the same
 * session without loss or duplicates. Node-free apart from the transport factory.
 */
import {
  Backoff,
  Connection,
  DEFAULT_MAX_SEND_BUFFER_BYTES,
  LivenessEngine,
  SessionStream,
  clientTiming,
  resolveReplayLimits,
  selectDetector,
  type BackoffOptions,
  type DetectorChoice,
  type PhiAccrualOptions,
  type StallGuardOptions,
  type Cause,
  type PeerState,
  type ReplayLimits,
  type ReplayOptions,
  type StateChange,
} from '@vigil/core';
import {
  CloseCode,
  ConfigError,
  DEFAULT_MAX_FRAME_BYTES,
  ErrorCode,
  MessageType,
  PROTOCOL_VERSION,
  ProtocolError,
  RejectedError,
  VigilError,
  decodeMessage,
  type HelloMessage,
  type WelcomeMessage,
} from '@vigil/protocol';
import type { KernelSocketOptions, TlsClientOptions } from '@vigil/transport';
import { pino, type Logger } from 'pino';
import { BehaviorSubject, Subject, timer, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import type { TransportFactory } from './node-transports.js';
import { parseVigilUrl } from './vigil-url.js';

export interface VigilClientOptions {
  /** The id this client asks to be known by. Default: the server assigns one. */
  readonly id?: string;
  /** Ping interval to request from the server, ms (the server clamps it). */
  readonly intervalMs?: number;
  /** Credential passed in `hello` for the server's authenticate hook. */
  readonly token?: string;
  /** Reconnect backoff; `false` disables reconnecting. Default: 100 ms doubling to 5 s, full jitter. */
  readonly reconnect?: BackoffOptions | false;
  /** Ms allowed to open the transport and complete the handshake. Default 5000. */
  readonly handshakeTimeoutMs?: number;
  /** Largest accepted payload, bytes. Default 1 MiB. */
  readonly maxFrameBytes?: number;
  /** Ms to wait for the server's side after our orderly close. Default 1000. */
  readonly lingerMs?: number;
  /** Scheduler for every timer and the clock. Default: async scheduler, monotonic clock. */
  readonly scheduler?: SchedulerLike;
  readonly logger?: Logger;
  /** Opens transports. Default: `tcp://` and `ws://` over `net`/`ws` from `@vigil/client`, the native WebSocket from `@vigil/client/browser`. */
  readonly transportFactory?: TransportFactory;
  /** Failure detector watching the server: `'fixed'` (interval + timeout watchdog), `'phi'` or a factory. Default `'fixed'`. */
  readonly detector?: DetectorChoice;
  /** Phi accrual thresholds and window, with `detector: 'phi'`. */
  readonly phi?: PhiAccrualOptions;
  /**
   * Own-stall awareness: silence of the server that a stall of this process explains (a
   * blocked event loop, a throttled tab, a suspended host) is not held against it, up to a
   * cap; see docs/detectors.md. `false` judges raw silence. Default: on, with its defaults.
   */
  readonly stallGuard?: StallGuardOptions | false;
  /** Kernel options for the connection's socket (keepalive, TCP_USER_TIMEOUT, TCP_NODELAY); see docs/kernel-vs-app.md. Default: none. */
  readonly kernel?: KernelSocketOptions;
  /**
   * Session resume, used when the server offers it (`welcome.options.resumeWindow`): bounds
   * of the buffer of messages the server has not acknowledged (and of sends queued while
   * reconnecting), or false never to resume. Default: on, 1024 messages, 1 MiB.
   */
  readonly resume?: ReplayOptions | false;
  /** TLS for `tls://` and `wss://` URLs: `ca` to trust (e.g. a self-signed certificate), client certificate, SNI name. */
  readonly tls?: TlsClientOptions;
  /** Bytes the connection may hold unsent before the server counts as not reading (close 4005). Default 8 MiB. */
  readonly maxSendBufferBytes?: number;
}

/**
 * A resumable session the client could not resume (`sessionLost$`): the server had no
 * more of it (window passed, buffer bound passed, server restarted) or refused it.
 */
export interface SessionLost {
  /** `ERR_VIGIL_RESUME_REJECTED`, saying why. */
  readonly error: VigilError;
  /** The session that was lost; `VigilClient.sessionId` is the new one by then. */
  readonly sessionId: string;
  /** Bodies of the messages the server never acknowledged, oldest first: they may not have arrived. */
  readonly unacknowledged: readonly unknown[];
  /** False when some unacknowledged messages had already been dropped (the buffer passed its bound). */
  readonly complete: boolean;
}

/** The client's view of its session; `connecting` again after a death while it reconnects. */
export interface ClientStatus {
  readonly state: PeerState;
  readonly cause: Cause | null;
  readonly since: number;
  /** Connection attempts since the last successful handshake. */
  readonly attempt: number;
}

/** Close codes after which retrying cannot help. */
const FINAL_CODES: ReadonlySet<number> = new Set([CloseCode.Unauthorized, CloseCode.VersionMismatch, CloseCode.Replaced]);
/** Refusals that may clear up: reported in `lastError`, then retried with backoff. */
const SOFT_REFUSALS: ReadonlySet<number> = new Set([CloseCode.ServerFull, CloseCode.RateLimited, CloseCode.InternalError, CloseCode.ResumeRejected]);

export class VigilClient<In = unknown, Out = unknown> {
  readonly url: URL;
  readonly engine: LivenessEngine;
  readonly logger: Logger;
  /** State changes of the connection to the server, across reconnects. */
  readonly changes$: Observable<StateChange>;
  /** Server-assigned session id and peer id of the current (or last) session. */
  sessionId: string | null = null;
  peerId: string | null = null;
  /** Successful handshakes after the first. */
  reconnects = 0;
  /** Reconnects that resumed the session (nothing lost, nothing repeated). */
  resumes = 0;
  /** The last error seen while connecting, if any. */
  lastError: Error | null = null;
  private readonly statusSubject: BehaviorSubject<ClientStatus>;
  private readonly messageSubject = new Subject<In>();
  private readonly sessionLostSubject = new Subject<SessionLost>();
  private readonly replayLimits: ReplayLimits | null;
  /** The resumable session, kept across transports; null for a plain session. */
  private session: { readonly id: string; readonly stream: SessionStream } | null = null;
  private resumeAsked: string | null = null;
  /** Doubles on each `goaway` `too-many-pings`: our own pings slow down, as gRPC clients do. */
  private pingSlowdown = 1;
  private readonly backoff: Backoff | null;
  private readonly factory: TransportFactory;
  private readonly handshakeTimeoutMs: number;
  private readonly maxFrameBytes: number;
  private readonly lingerMs: number;
  protected connection: Connection | null = null;
  private retry: Subscription | null = null;
  private attempts = 0;
  private handshakes = 0;
  private serverRtt = Number.NaN;
  private offset = Number.NaN;
  private stopped = false;
  private firstWelcome: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private ready: Promise<void> | null = null;

  constructor(
    url: string,
    private readonly options: VigilClientOptions = {},
  ) {
    this.url = parseVigilUrl(url, ['tcp', 'tls', 'ws', 'wss']);
    this.replayLimits = options.resume === false ? null : resolveReplayLimits(options.resume ?? {});
    if (options.maxSendBufferBytes !== undefined && !(Number.isInteger(options.maxSendBufferBytes) && options.maxSendBufferBytes > 0)) {
      throw new ConfigError('maxSendBufferBytes', `must be a positive integer number of bytes, got ${String(options.maxSendBufferBytes)}`);
    }
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 5000;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.lingerMs = options.lingerMs ?? 1000;
    if (options.intervalMs !== undefined && !(Number.isInteger(options.intervalMs) && options.intervalMs > 0)) {
      throw new ConfigError('intervalMs', `must be a positive integer number of ms, got ${String(options.intervalMs)}`);
    }
    this.backoff = options.reconnect === false ? null : new Backoff(options.reconnect ?? {});
    // The entry points (Node, browser) supply their platform's factory; this module stays Node-free.
    if (!options.transportFactory) throw new ConfigError('transportFactory', 'required: construct the client from @vigil/client or @vigil/client/browser');
    this.factory = options.transportFactory;
    this.logger = (options.logger ?? pino({ level: 'silent' })).child({ component: 'vigil-client', url });
    this.engine = new LivenessEngine({
      tickMs: 25,
      detector: selectDetector(options.detector, options.phi),
      ...(options.stallGuard !== undefined ? { stallGuard: options.stallGuard } : {}),
      ...(options.scheduler ? { scheduler: options.scheduler } : {}),
    });
    this.changes$ = this.engine.changes$;
    this.statusSubject = new BehaviorSubject<ClientStatus>({ state: 'connecting', cause: null, since: this.engine.now(), attempt: 0 });
    this.engine.changes$.subscribe((c) => this.setStatus(c.to, c.cause));
  }

  get status(): ClientStatus {
    return this.statusSubject.value;
  }

  /** Current and future status; completes when the client is closed for good. */
  get status$(): Observable<ClientStatus> {
    return this.statusSubject.asObservable();
  }

  /** Application messages from the server. */
  get messages$(): Observable<In> {
    return this.messageSubject.asObservable();
  }

  /** Resumable sessions the client could not resume, each with what may not have arrived. */
  get sessionLost$(): Observable<SessionLost> {
    return this.sessionLostSubject.asObservable();
  }

  /** Messages sent (or queued while reconnecting) that the server has not acknowledged. 0 without resume. */
  get backlog(): number {
    return this.session?.stream.backlog ?? 0;
  }

  /** RTT to the server, ms: the server's smoothed estimate from its pings, or our own probes. NaN until known. */
  get rttMs(): number {
    const own = this.connection?.monitor.rtt.srtt ?? Number.NaN;
    return Number.isNaN(own) ? this.serverRtt : own;
  }

  /** Estimated server clock minus our clock, ms; NaN until known. */
  get clockOffsetMs(): number {
    return this.offset;
  }

  /**
   * Starts connecting; resolves after the first handshake, rejects if refused for good or closed first.
   * Later calls return the same promise: the client reconnects on its own once started.
   */
  connect(): Promise<void> {
    if (this.stopped) return Promise.reject(new VigilError(ErrorCode.Closed, 'client is closed'));
    if (this.ready === null) {
      this.ready = new Promise<void>((resolve, reject) => {
        this.firstWelcome = { resolve, reject };
      });
      this.attempt();
    }
    return this.ready;
  }

  /**
   * Sends one application message. While reconnecting with a resumable session, queues it
   * (it goes out on resume); false when not connected and not queued (no resumable
   * session, or the queue is at its bound).
   */
  send(message: Out): boolean {
    const c = this.openConnection;
    if (c !== null) return c.send(message);
    const session = this.session;
    return session !== null && !this.stopped && session.stream.queue(message);
  }

  /**
   * Sends a ping now (for an immediate RTT sample or liveness probe), unless the last one
   * went out less than the server's `minPingInterval` ago. Returns whether it was sent.
   */
  probe(): boolean {
    return this.connection !== null && this.connection.monitor.state !== 'connecting' && this.connection.ping();
  }

  /** The connection, once its handshake is done and until it ends; null otherwise. */
  protected get openConnection(): Connection | null {
    const c = this.connection;
    return c !== null && !c.ended && c.monitor.state !== 'connecting' ? c : null;
  }

  /** If a reconnect is waiting out its backoff, attempts now (the network just came back); true if it did. */
  protected retryNow(): boolean {
    if (this.retry === null || this.stopped) return false;
    this.retry.unsubscribe();
    this.attempt();
    return true;
  }

  /** Closes in order and stops reconnecting; resolves once the transport has ended. */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.retry?.unsubscribe();
    this.retry = null;
    const c = this.connection;
    if (c && !c.ended) {
      c.close(CloseCode.Normal, 'client closing');
      await c.transport.closed;
    }
    this.finish('local-close');
  }

  private attempt(): void {
    this.retry = null;
    if (this.stopped) return;
    this.attempts++;
    this.setStatus('connecting', null);
    const kernel = this.options.kernel;
    const dial = this.factory(this.url, {
      maxFrameBytes: this.maxFrameBytes,
      connectTimeoutMs: this.handshakeTimeoutMs,
      lingerMs: this.lingerMs,
      ...(kernel ? { kernel, onKernelWarning: (message: string) => this.logger.warn(message) } : {}),
      ...(this.options.tls ? { tls: this.options.tls } : {}),
    });
    dial.then(
      (transport) => {
        if (this.stopped) {
          transport.destroy('local-close');
          return;
        }
        const connection = new Connection(
          this.engine,
          transport,
          {
            handshake: (m) => this.welcomed(connection, m),
            data: (body) => this.messageSubject.next(body as In),
            ping: (m) => {
              if (m.rtt !== undefined) this.serverRtt = m.rtt;
              const rtt = Number.isNaN(this.rttMs) ? 0 : this.rttMs;
              this.offset = m.ts + rtt / 2 - this.engine.now();
            },
            goaway: (m) => {
              this.logger.info({ code: m.code, reconnectDelayMs: m.reconnectDelay, reason: m.reason }, 'server asked us to go away');
              this.pendingDelay = m.reconnectDelay;
              if (m.code === CloseCode.TooManyPings) {
                this.pingSlowdown *= 2;
                connection.minPingIntervalMs = Math.max(1, connection.minPingIntervalMs * 2);
              }
            },
            ended: () => this.ended(connection),
          },
          this.handshakeTimeoutMs,
          this.url.host,
          { maxBufferedBytes: this.options.maxSendBufferBytes ?? DEFAULT_MAX_SEND_BUFFER_BYTES },
        );
        this.connection = connection;
        const session = this.session;
        this.resumeAsked = session !== null && session.stream.resumable ? session.id : null;
        const hello: HelloMessage = {
          type: MessageType.Hello,
          version: PROTOCOL_VERSION,
          clientId: this.options.id ?? '',
          options: {
            ...(this.options.intervalMs !== undefined ? { interval: this.options.intervalMs } : {}),
            ...(this.options.token !== undefined ? { token: this.options.token } : {}),
            ...(session !== null && this.resumeAsked !== null ? { resume: { session: session.id, ack: session.stream.inSeq } } : {}),
          },
        };
        connection.sendMessage(hello);
      },
      (error: Error) => {
        this.lastError = error;
        this.logger.debug({ err: error.message, attempt: this.attempts }, 'connect failed');
        this.scheduleReconnect();
      },
    );
  }

  private pendingDelay: number | null = null;

  private welcomed(connection: Connection, m: HelloMessage | WelcomeMessage): void {
    if (m.type !== MessageType.Welcome) throw new ProtocolError(ErrorCode.UnexpectedMessage, 'expected welcome');
    if (m.version !== PROTOCOL_VERSION) {
      throw new ProtocolError(ErrorCode.VersionMismatch, `server speaks protocol ${m.version}, we speak ${PROTOCOL_VERSION}`, CloseCode.VersionMismatch);
    }
    const held = this.session;
    const resuming = held !== null && this.resumeAsked === held.id && m.options.resumed === true && m.sessionId === held.id;
    if (resuming && !held.stream.canResumeFrom(m.options.ack ?? 0)) {
      // The server missed messages we no longer hold: resuming would lose them silently.
      this.lose(held, `the server acknowledged ${m.options.ack ?? 0}, but this client no longer holds what follows`);
      throw new ProtocolError(ErrorCode.ResumeRejected, 'cannot replay what the server missed', CloseCode.ResumeRejected);
    }
    this.sessionId = m.sessionId;
    this.peerId = m.peerId;
    connection.monitor.id = m.peerId;
    connection.minPingIntervalMs = (m.options.minPingInterval ?? 0) * this.pingSlowdown;
    if (this.handshakes++ > 0) this.reconnects++;
    this.attempts = 0;
    this.backoff?.reset();
    if (resuming) {
      connection.attach(held.stream);
    } else {
      if (held !== null) {
        this.lose(held, this.resumeAsked === null ? 'its unacknowledged messages passed the resume bound' : `the server started a new session (${m.sessionId})`);
      }
      const resumable = m.options.resumeWindow !== undefined && this.replayLimits !== null;
      const stream = new SessionStream(resumable ? this.replayLimits : null);
      this.session = resumable ? { id: m.sessionId, stream } : null;
      connection.attach(stream);
    }
    connection.start(clientTiming(m.interval, m.timeout), false);
    if (resuming) {
      this.resumes++;
      const replayed = connection.replayFrom(m.options.ack ?? 0);
      this.logger.debug({ sessionId: m.sessionId, replayed }, 'session resumed');
    }
    this.logger.debug({ sessionId: m.sessionId, peerId: m.peerId, intervalMs: m.interval, timeoutMs: m.timeout }, 'session established');
    this.firstWelcome?.resolve();
    this.firstWelcome = null;
  }

  private ended(connection: Connection): void {
    if (this.connection === connection) this.connection = null;
    const status = connection.monitor.status;
    this.logger.debug({ state: status.state, cause: status.cause, peerClose: connection.peerClose }, 'connection ended');
    if (this.stopped) return;
    const code = connection.peerClose?.code ?? connection.error?.closeCode;
    const reason = connection.peerClose?.reason ?? connection.error?.message ?? 'rejected';
    if (code !== undefined && FINAL_CODES.has(code)) {
      this.stopped = true;
      this.lastError = new RejectedError(code, reason, true);
      this.finish('rejected');
      return;
    }
    if (connection.peerClose !== null && SOFT_REFUSALS.has(connection.peerClose.code)) {
      this.lastError = new RejectedError(connection.peerClose.code, reason, false);
      // The server refused to resume: the next attempt starts a new session.
      if (connection.peerClose.code === CloseCode.ResumeRejected && this.session !== null) this.lose(this.session, `the server refused it: ${reason}`);
    }
    this.scheduleReconnect();
  }

  /** A resumable session that cannot be resumed: tell the application what may be lost. */
  private lose(session: { readonly id: string; readonly stream: SessionStream }, why: string): void {
    if (this.session === session) this.session = null;
    const error = new VigilError(ErrorCode.ResumeRejected, `session ${session.id} could not be resumed: ${why}`);
    this.lastError = error;
    const unacknowledged = session.stream.unacknowledged((payload) => {
      const m = decodeMessage(payload);
      return m.type === MessageType.Data ? m.body : undefined;
    });
    this.logger.info({ sessionId: session.id, unacknowledged: unacknowledged.length, why }, 'session lost');
    this.sessionLostSubject.next({ error, sessionId: session.id, unacknowledged, complete: session.stream.resumable });
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    if (this.backoff === null) {
      this.stopped = true;
      this.finish(this.status.cause ?? 'transport-error');
      return;
    }
    const delay = this.pendingDelay ?? this.backoff.next();
    this.pendingDelay = null;
    this.retry = timer(delay, this.engine.scheduler).subscribe(() => this.attempt());
  }

  private finish(cause: Cause): void {
    this.setStatus('closed', cause);
    this.firstWelcome?.reject(this.lastError ?? new VigilError(ErrorCode.Closed, `client closed (${cause})`));
    this.firstWelcome = null;
    this.statusSubject.complete();
    this.messageSubject.complete();
    this.sessionLostSubject.complete();
  }

  private setStatus(state: PeerState, cause: Cause | null): void {
    const s = this.statusSubject.value;
    // Retries re-announce `connecting` with their attempt number; the first attempt is the initial status.
    if (s.state === state && s.cause === cause && (s.attempt === this.attempts || this.attempts <= 1)) return;
    if (this.statusSubject.closed) return;
    this.statusSubject.next({ state, cause, since: this.engine.now(), attempt: this.attempts });
  }
}
