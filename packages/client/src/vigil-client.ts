/**
 * `VigilClient`: one logical session with a Vigil server over `tcp://` or `ws://`.
 * Answers the server's pings, watches for a silent server (interval + timeout),
 * learns RTT and clock offset, and reconnects with exponential backoff and full
 * jitter until closed or refused for good. Node-free apart from the transport
 * factory, so a browser build can swap that in.
 */
import {
  Backoff,
  Connection,
  LivenessEngine,
  clientTiming,
  selectDetector,
  type BackoffOptions,
  type DetectorChoice,
  type PhiAccrualOptions,
  type Cause,
  type PeerState,
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
  VigilError,
  type HelloMessage,
  type WelcomeMessage,
} from '@vigil/protocol';
import { assertKernelOptionsUsable, type KernelSocketOptions } from '@vigil/transport';
import { pino, type Logger } from 'pino';
import { BehaviorSubject, Subject, timer, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { nodeTransportFactory, parseVigilUrl, type TransportFactory } from './node-transports.js';

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
  /** Opens transports; the default handles `tcp://` and `ws://` in Node. */
  readonly transportFactory?: TransportFactory;
  /** Failure detector watching the server: `'fixed'` (interval + timeout watchdog), `'phi'` or a factory. Default `'fixed'`. */
  readonly detector?: DetectorChoice;
  /** Phi accrual thresholds and window, with `detector: 'phi'`. */
  readonly phi?: PhiAccrualOptions;
  /** Kernel options for the connection's socket (keepalive, TCP_USER_TIMEOUT, TCP_NODELAY); see docs/kernel-vs-app.md. Default: none. */
  readonly kernel?: KernelSocketOptions;
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
  /** The last error seen while connecting, if any. */
  lastError: Error | null = null;
  private readonly statusSubject: BehaviorSubject<ClientStatus>;
  private readonly messageSubject = new Subject<In>();
  private readonly backoff: Backoff | null;
  private readonly factory: TransportFactory;
  private readonly handshakeTimeoutMs: number;
  private readonly maxFrameBytes: number;
  private readonly lingerMs: number;
  private connection: Connection | null = null;
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
    this.url = parseVigilUrl(url, ['tcp', 'ws', 'wss']);
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 5000;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.lingerMs = options.lingerMs ?? 1000;
    if (options.intervalMs !== undefined && !(Number.isInteger(options.intervalMs) && options.intervalMs > 0)) {
      throw new ConfigError('intervalMs', `must be a positive integer number of ms, got ${String(options.intervalMs)}`);
    }
    this.backoff = options.reconnect === false ? null : new Backoff(options.reconnect ?? {});
    this.factory = options.transportFactory ?? nodeTransportFactory;
    if (options.kernel) assertKernelOptionsUsable(options.kernel);
    this.logger = (options.logger ?? pino({ level: 'silent' })).child({ component: 'vigil-client', url });
    this.engine = new LivenessEngine({ tickMs: 25, detector: selectDetector(options.detector, options.phi), ...(options.scheduler ? { scheduler: options.scheduler } : {}) });
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

  /** Sends one application message; false when not connected. */
  send(message: Out): boolean {
    return this.connection?.send(message) ?? false;
  }

  /** Sends a ping now (for an immediate RTT sample or liveness probe). */
  probe(): void {
    if (this.connection && this.connection.monitor.state !== 'connecting') this.connection.ping();
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
            },
            ended: () => this.ended(connection),
          },
          this.handshakeTimeoutMs,
          this.url.host,
        );
        this.connection = connection;
        const hello: HelloMessage = {
          type: MessageType.Hello,
          version: PROTOCOL_VERSION,
          clientId: this.options.id ?? '',
          options: {
            ...(this.options.intervalMs !== undefined ? { interval: this.options.intervalMs } : {}),
            ...(this.options.token !== undefined ? { token: this.options.token } : {}),
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
    this.sessionId = m.sessionId;
    this.peerId = m.peerId;
    connection.monitor.id = m.peerId;
    if (this.handshakes++ > 0) this.reconnects++;
    this.attempts = 0;
    this.backoff?.reset();
    connection.start(clientTiming(m.interval, m.timeout), false);
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
    if (code !== undefined && FINAL_CODES.has(code)) {
      this.stopped = true;
      const reason = connection.peerClose?.reason ?? connection.error?.message ?? 'rejected';
      this.lastError = new VigilError(ErrorCode.Rejected, `server refused the session (${code}): ${reason}`);
      this.finish('rejected');
      return;
    }
    this.scheduleReconnect();
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
  }

  private setStatus(state: PeerState, cause: Cause | null): void {
    const s = this.statusSubject.value;
    // Retries re-announce `connecting` with their attempt number; the first attempt is the initial status.
    if (s.state === state && s.cause === cause && (s.attempt === this.attempts || this.attempts <= 1)) return;
    if (this.statusSubject.closed) return;
    this.statusSubject.next({ state, cause, since: this.engine.now(), attempt: this.attempts });
  }
}
