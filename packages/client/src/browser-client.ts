/**
 * `VigilClient` for the browser, as `@vigil/client/browser` exports it: the generic
 * client over the native WebSocket, plus background mode. It reports the page's
 * lifecycle to the server (`status`), probes at once when the page is visible or
 * online again, and after a sleep checks its deadline against the wall clock before
 * writing, reconnecting instead of writing into a connection the server has dropped.
 */
import { BACKGROUND_DEFAULTS, resolveHiddenTimeout } from '@vigil/core';
import { ConfigError, MessageType, type Visibility } from '@vigil/protocol';
import type { Subscription } from 'rxjs';
import { BrowserWsTransport, browserTransportFactory, type WebSocketConstructor } from './browser-transport.js';
import { PageLifecycle, browserEnvironment, type PageLifecycleOptions, type Wake } from './page-lifecycle.js';
import { parseVigilUrl } from './vigil-url.js';
import { VigilClient, type VigilClientOptions } from './vigil-client.js';

export interface BackgroundOptions extends PageLifecycleOptions {
  /**
   * Silence, ms, the server allows this client while its page is in the background: set it
   * to the server's `hiddenTimeoutMs`. After a sleep spent hidden, a connection silent for
   * longer is presumed dropped and replaced without writing to it. Default 60000.
   */
  readonly hiddenTimeoutMs?: number;
  /** The lifecycle source. Default: this page's (`document`, `window`, `navigator`). */
  readonly lifecycle?: PageLifecycle;
}

export interface BrowserClientOptions extends VigilClientOptions {
  /** Background mode; false turns it off (no `status`, no probing on return). Default: on wherever there is a `document`. */
  readonly background?: BackgroundOptions | false;
  /** The WebSocket constructor. Default `globalThis.WebSocket`. */
  readonly webSocket?: WebSocketConstructor;
}

/** What the client does after a deadline check. */
export type DeadlineVerdict = 'ok' | 'reconnecting';

export class BrowserVigilClient<In = unknown, Out = unknown> extends VigilClient<In, Out> {
  /** The page lifecycle this client reports; null with background mode off. */
  readonly lifecycle: PageLifecycle | null;
  /** The visibility last sent to the server in this session (a resumed session keeps it on the server). */
  private reported: Visibility = 'visible';
  private readonly hiddenTimeoutMs: number;
  private readonly subscriptions: Subscription[] = [];

  /** @throws VigilError `ERR_VIGIL_INVALID_URL` unless `ws://` or `wss://`; ConfigError for bad options, kernel options included. */
  constructor(url: string, options: BrowserClientOptions = {}) {
    super(url, browserDefaults(url, options));
    const background = options.background ?? {};
    this.hiddenTimeoutMs = resolveHiddenTimeout(background === false ? BACKGROUND_DEFAULTS.hiddenTimeoutMs : background.hiddenTimeoutMs);
    const env = browserEnvironment();
    const owned = background !== false && background.lifecycle === undefined && env.document !== undefined;
    this.lifecycle = background === false ? null : (background.lifecycle ?? (owned ? new PageLifecycle(env, background) : null));
    const lifecycle = this.lifecycle;
    if (lifecycle !== null) {
      this.subscriptions.push(
        lifecycle.state$.subscribe((state) => this.pageChanged(state)),
        lifecycle.wakes$.subscribe((wake) => this.woke(wake)),
      );
    }
    let previous = this.status.state;
    // `resumes` is counted only after the connection turns alive; the session id is known before.
    let sessionId: string | null = null;
    this.subscriptions.push(
      this.status$.subscribe({
        next: (s) => {
          if (s.state === 'alive' && previous === 'connecting' && lifecycle !== null) {
            const resumed = this.sessionId !== null && this.sessionId === sessionId;
            sessionId = this.sessionId;
            if (resumed) {
              // A resumed session keeps its visibility on the server, but the last report may
              // have gone into the dead connection: say the current state again (the server dedups).
              this.report(lifecycle.state);
            } else {
              // A new session starts visible on the server: tell it otherwise.
              this.reported = 'visible';
              if (lifecycle.state !== 'visible') this.report(lifecycle.state);
            }
          }
          previous = s.state;
        },
        complete: () => {
          for (const sub of this.subscriptions) sub.unsubscribe();
          if (owned) lifecycle?.dispose();
        },
      }),
    );
  }

  /**
   * Sends one application message, after a deadline check: if it finds the connection
   * dropped, the message is queued for the resumed session (when the server offers
   * resume) or refused (false) while the client reconnects.
   */
  override send(message: Out): boolean {
    this.lifecycle?.checkClocks();
    this.checkDeadline();
    return super.send(message);
  }

  /** Sends a ping now, after the same deadline check as `send`. Returns whether it was sent. */
  override probe(): boolean {
    return this.checkDeadline() === 'ok' && super.probe();
  }

  /**
   * Judges the connection by both clocks before anything is written to it: silence
   * (since the last inbound message, by the wall clock, which counts a sleep) past the
   * watchdog's deadline, or past `hiddenTimeoutMs` while the server was told the page
   * is in the background, means the server has dropped us: the connection is declared
   * dead without another write and a new one is dialled at once.
   */
  checkDeadline(): DeadlineVerdict {
    const c = this.connection;
    const timing = c?.monitor.peerTiming;
    if (!c || c.ended || !timing) return 'ok';
    // The wall clock (Date.now, as the transport's record) runs on while the machine sleeps; the monotonic one may not.
    const wallSilence = c.transport instanceof BrowserWsTransport ? Date.now() - c.transport.lastReceivedAt : 0;
    const silence = Math.max(wallSilence, c.monitor.silence());
    const deadline = this.reported === 'visible' ? timing.timeoutMs : Math.max(timing.timeoutMs, this.hiddenTimeoutMs);
    if (silence < deadline) return 'ok';
    this.logger.info({ silenceMs: Math.round(silence), deadlineMs: deadline, reported: this.reported }, 'connection silent past its deadline (slept?); reconnecting');
    // No close code: nothing more is written to a connection presumed dead.
    c.kill('heartbeat-timeout');
    this.retryNow();
    return 'reconnecting';
  }

  private pageChanged(state: Visibility): void {
    if (state === this.reported) return;
    const back = state === 'visible' || (this.reported === 'offline' && state !== 'offline');
    // Back from the background: first make sure the connection can still be trusted.
    if (back && this.checkDeadline() === 'reconnecting') return;
    this.report(state);
    if (back) {
      // Online again: skip what is left of the backoff; visible again: prove the path now.
      this.retryNow();
      super.probe();
    }
  }

  private woke(wake: Wake): void {
    this.logger.debug({ sleptMs: Math.round(wake.sleptMs), pausedMs: Math.round(wake.monoMs) }, 'page woke');
    if (this.checkDeadline() === 'ok') super.probe();
  }

  /** Tells the server the page's state (best effort: an offline page's report may never arrive). */
  private report(visibility: Visibility): void {
    const c = this.openConnection;
    if (c === null) return;
    if (c.sendMessage({ type: MessageType.Status, visibility })) this.reported = visibility;
  }
}

function browserDefaults(url: string, options: BrowserClientOptions): VigilClientOptions {
  parseVigilUrl(url, ['ws', 'wss']);
  if (options.kernel) throw new ConfigError('kernel', 'kernel socket options cannot be set from a browser');
  if (options.tls) throw new ConfigError('tls', 'TLS settings cannot be set from a browser: wss:// uses the browser\'s own trust store');
  return options.transportFactory ? options : { ...options, transportFactory: browserTransportFactory(options.webSocket) };
}
