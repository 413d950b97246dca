/**
 * The page's lifecycle as one typed state: `visible`, `hidden`, `frozen` or `offline`,
 * from the Page Visibility API, the Page Lifecycle `freeze`/`resume` events, bfcache
 * `pagehide`/`pageshow` and `online`/`offline`; plus wake detection, comparing the wall
 * clock with the monotonic one so a sleep (which only the wall clock counts) shows up.
 */
import type { Visibility } from '@vigil/protocol';
import { BehaviorSubject, Subject, type Observable } from 'rxjs';

/** Named defaults, ms. */
export const LIFECYCLE_DEFAULTS = {
  /** How often the clocks are compared while the page runs. */
  checkEveryMs: 1000,
  /** Wall clock ahead of the monotonic clock by this much since the last check: we slept. */
  sleepThresholdMs: 2000,
  /** A check this late on the monotonic clock: the page's timers were paused or throttled. */
  pauseThresholdMs: 5000,
} as const;

/** An event source, as `document` and `window` are. */
export interface LifecycleTarget {
  addEventListener(type: string, listener: (event: { readonly persisted?: boolean }) => void): void;
  removeEventListener(type: string, listener: (event: { readonly persisted?: boolean }) => void): void;
}

/** What the lifecycle reads from the page; `browserEnvironment()` supplies the real one. */
export interface LifecycleEnvironment {
  readonly document?: LifecycleTarget & { readonly visibilityState: string };
  readonly window?: LifecycleTarget;
  readonly navigator?: { readonly onLine?: boolean };
  /** Wall clock, ms since epoch (`Date.now`): counts time asleep. */
  readonly wallNow: () => number;
  /** Monotonic clock, ms (`performance.now`): on most platforms it stops while the machine sleeps. */
  readonly monoNow: () => number;
}

/** The page woke up: its timers ran late, or the machine slept in between. */
export interface Wake {
  /** Wall-clock ms since the previous check. */
  readonly wallMs: number;
  /** Monotonic ms since the previous check. */
  readonly monoMs: number;
  /** Ms the wall clock ran ahead of the monotonic clock: time asleep (or a wall-clock step). */
  readonly sleptMs: number;
}

export interface PageLifecycleOptions {
  /** Ms between clock comparisons; 0 compares only when `checkClocks()` is called. Default 1000. */
  readonly checkEveryMs?: number;
  /** Default 2000 (`LIFECYCLE_DEFAULTS.sleepThresholdMs`). */
  readonly sleepThresholdMs?: number;
  /** Default 5000 (`LIFECYCLE_DEFAULTS.pauseThresholdMs`). */
  readonly pauseThresholdMs?: number;
}

/** The real page: `document`, `window`, `navigator`, `Date.now` and `performance.now`. */
export function browserEnvironment(): LifecycleEnvironment {
  const g = globalThis as { document?: LifecycleEnvironment['document']; window?: LifecycleTarget; navigator?: { onLine?: boolean } };
  return {
    ...(g.document ? { document: g.document } : {}),
    ...(g.window ? { window: g.window } : {}),
    ...(g.navigator ? { navigator: g.navigator } : {}),
    wallNow: () => Date.now(),
    monoNow: () => performance.now(),
  };
}

export class PageLifecycle {
  private readonly stateSubject: BehaviorSubject<Visibility>;
  private readonly wakeSubject = new Subject<Wake>();
  private readonly listeners: [LifecycleTarget, string, (event: { readonly persisted?: boolean }) => void][] = [];
  private readonly sleepThresholdMs: number;
  private readonly pauseThresholdMs: number;
  private frozen = false;
  private lastWall: number;
  private lastMono: number;
  private interval: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly env: LifecycleEnvironment = browserEnvironment(),
    options: PageLifecycleOptions = {},
  ) {
    this.sleepThresholdMs = options.sleepThresholdMs ?? LIFECYCLE_DEFAULTS.sleepThresholdMs;
    this.pauseThresholdMs = options.pauseThresholdMs ?? LIFECYCLE_DEFAULTS.pauseThresholdMs;
    this.lastWall = env.wallNow();
    this.lastMono = env.monoNow();
    this.stateSubject = new BehaviorSubject(this.derive());
    const { document: doc, window: win } = env;
    if (doc) {
      this.listen(doc, 'visibilitychange', () => this.update());
      // Page Lifecycle API: `freeze` is the last chance to run before the page stops; `resume` the first after.
      this.listen(doc, 'freeze', () => this.setFrozen(true));
      this.listen(doc, 'resume', () => this.setFrozen(false));
    }
    if (win) {
      this.listen(win, 'online', () => this.update());
      this.listen(win, 'offline', () => this.update());
      // Into and out of the back/forward cache: frozen too, for as long as it stays there.
      this.listen(win, 'pagehide', (e) => e.persisted === true && this.setFrozen(true));
      this.listen(win, 'pageshow', (e) => e.persisted === true && this.setFrozen(false));
    }
    const every = options.checkEveryMs ?? LIFECYCLE_DEFAULTS.checkEveryMs;
    if (every > 0) this.interval = setInterval(() => this.checkClocks(), every);
  }

  /** The page's current state. */
  get state(): Visibility {
    return this.stateSubject.value;
  }

  /** Current and future states, without repeats; completes on `dispose()`. */
  get state$(): Observable<Visibility> {
    return this.stateSubject.asObservable();
  }

  /** Wakes: checks that found the machine slept or the page's timers stalled. */
  get wakes$(): Observable<Wake> {
    return this.wakeSubject.asObservable();
  }

  /**
   * Compares both clocks with the previous check; emits and returns a `Wake` if the
   * wall clock ran ahead (a sleep) or the check itself came late (timers paused), else null.
   */
  checkClocks(): Wake | null {
    const wall = this.env.wallNow();
    const mono = this.env.monoNow();
    const wallMs = wall - this.lastWall;
    const monoMs = mono - this.lastMono;
    this.lastWall = wall;
    this.lastMono = mono;
    // The browser client checks on every send: build a Wake only when there is one.
    if (wallMs - monoMs < this.sleepThresholdMs && monoMs < this.pauseThresholdMs) return null;
    const wake: Wake = { wallMs, monoMs, sleptMs: wallMs - monoMs };
    this.wakeSubject.next(wake);
    return wake;
  }

  /** Removes every listener and the clock check; completes the streams. */
  dispose(): void {
    if (this.interval !== null) clearInterval(this.interval);
    this.interval = null;
    for (const [target, type, listener] of this.listeners.splice(0)) target.removeEventListener(type, listener);
    this.stateSubject.complete();
    this.wakeSubject.complete();
  }

  private listen(target: LifecycleTarget, type: string, listener: (event: { readonly persisted?: boolean }) => void): void {
    target.addEventListener(type, listener);
    this.listeners.push([target, type, listener]);
  }

  private setFrozen(frozen: boolean): void {
    this.frozen = frozen;
    // Coming back from a freeze, the clocks tell how long it lasted (and whether the machine slept).
    if (!frozen) this.checkClocks();
    this.update();
  }

  /** Offline first (nothing gets through), then frozen, hidden, visible. */
  private derive(): Visibility {
    if (this.env.navigator?.onLine === false) return 'offline';
    if (this.frozen) return 'frozen';
    return this.env.document?.visibilityState === 'hidden' ? 'hidden' : 'visible';
  }

  private update(): void {
    const next = this.derive();
    if (next !== this.stateSubject.value && !this.stateSubject.closed) this.stateSubject.next(next);
  }
}
