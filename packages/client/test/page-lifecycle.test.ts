/**
 * `PageLifecycle` against a scripted page (fake `document`, `window`, `navigator` and
 * clocks): the state from visibility, freeze/resume, bfcache and online/offline, with
 * offline first; wake detection from the two clocks; and a clean dispose.
 */
import type { Visibility } from '@vigil/protocol';
import { LIFECYCLE_DEFAULTS, PageLifecycle, type LifecycleTarget, type Wake } from '../src/page-lifecycle.js';

type Listener = (event: { readonly persisted?: boolean }) => void;

class FakeTarget implements LifecycleTarget {
  readonly listeners = new Map<string, Set<Listener>>();
  addEventListener(type: string, listener: Listener): void {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type)!.add(listener);
  }
  removeEventListener(type: string, listener: Listener): void {
    this.listeners.get(type)?.delete(listener);
  }
  fire(type: string, persisted?: boolean): void {
    for (const l of this.listeners.get(type) ?? []) l(persisted === undefined ? {} : { persisted });
  }
  get count(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }
}

function fakePage() {
  const document = Object.assign(new FakeTarget(), { visibilityState: 'visible' });
  const window = new FakeTarget();
  const navigator = { onLine: true };
  const clocks = { wall: 1_700_000_000_000, mono: 5000 };
  const lifecycle = new PageLifecycle({ document, window, navigator, wallNow: () => clocks.wall, monoNow: () => clocks.mono }, { checkEveryMs: 0 });
  const states: Visibility[] = [];
  const wakes: Wake[] = [];
  lifecycle.state$.subscribe((s) => states.push(s));
  lifecycle.wakes$.subscribe((w) => wakes.push(w));
  const hide = (hidden: boolean): void => {
    document.visibilityState = hidden ? 'hidden' : 'visible';
    document.fire('visibilitychange');
  };
  return { document, window, navigator, clocks, lifecycle, states, wakes, hide };
}

describe('PageLifecycle', () => {
  it('follows visibility, the freeze/resume events and the back/forward cache', () => {
    const p = fakePage();
    p.hide(true);
    p.document.fire('freeze');
    p.document.fire('resume');
    p.hide(false);
    p.window.fire('pagehide', false); // a normal unload: not frozen
    p.window.fire('pagehide', true);
    p.window.fire('pageshow', true);
    expect(p.states).toEqual(['visible', 'hidden', 'frozen', 'hidden', 'visible', 'frozen', 'visible']);
    expect(p.lifecycle.state).toBe('visible');
  });

  it('reports offline over every other state, and what is underneath once online', () => {
    const p = fakePage();
    p.hide(true);
    p.navigator.onLine = false;
    p.window.fire('offline');
    p.document.fire('freeze');
    p.document.fire('resume');
    p.navigator.onLine = true;
    p.window.fire('online');
    p.hide(false);
    expect(p.states).toEqual(['visible', 'hidden', 'offline', 'hidden', 'visible']);
  });

  it('detects a sleep (wall clock ahead of the monotonic one) and paused timers, nothing else', () => {
    const p = fakePage();
    const { sleepThresholdMs, pauseThresholdMs } = LIFECYCLE_DEFAULTS;
    p.clocks.wall += 1000;
    p.clocks.mono += 1000;
    expect(p.lifecycle.checkClocks()).toBeNull();
    // A sleep: only the wall clock ran.
    p.clocks.wall += 600_000;
    p.clocks.mono += 3;
    expect(p.lifecycle.checkClocks()).toEqual({ wallMs: 600_000, monoMs: 3, sleptMs: 599_997 });
    // Just under either threshold: nothing.
    p.clocks.wall += sleepThresholdMs - 1;
    expect(p.lifecycle.checkClocks()).toBeNull();
    p.clocks.wall += pauseThresholdMs - 1;
    p.clocks.mono += pauseThresholdMs - 1;
    expect(p.lifecycle.checkClocks()).toBeNull();
    // Timers paused (a debugger, a freeze): both clocks ran, the check came late.
    p.clocks.wall += 8000;
    p.clocks.mono += 8000;
    expect(p.lifecycle.checkClocks()).toEqual({ wallMs: 8000, monoMs: 8000, sleptMs: 0 });
    expect(p.wakes).toHaveLength(2);
  });

  it('checks the clocks on resume, so a freeze spent asleep is reported at once', () => {
    const p = fakePage();
    p.document.fire('freeze');
    p.clocks.wall += 120_000;
    p.clocks.mono += 10;
    p.document.fire('resume');
    expect(p.wakes).toEqual([{ wallMs: 120_000, monoMs: 10, sleptMs: 119_990 }]);
  });

  it('dispose removes every listener and completes both streams', () => {
    const p = fakePage();
    let completed = 0;
    p.lifecycle.state$.subscribe({ complete: () => completed++ });
    p.lifecycle.wakes$.subscribe({ complete: () => completed++ });
    expect(p.document.count + p.window.count).toBe(7);
    p.lifecycle.dispose();
    expect(p.document.count + p.window.count).toBe(0);
    expect(completed).toBe(2);
    p.hide(true);
    expect(p.states).toEqual(['visible']);
  });

  it('checks the clocks on its own every checkEveryMs, and stops on dispose', () => {
    jest.useFakeTimers();
    try {
      const clocks = { wall: 0, mono: 0 };
      const lifecycle = new PageLifecycle({ wallNow: () => clocks.wall, monoNow: () => clocks.mono }, { checkEveryMs: 1000 });
      const wakes: Wake[] = [];
      lifecycle.wakes$.subscribe((w) => wakes.push(w));
      expect(lifecycle.state).toBe('visible');
      clocks.wall = 60_000;
      clocks.mono = 1000;
      jest.advanceTimersByTime(1000);
      expect(wakes).toEqual([{ wallMs: 60_000, monoMs: 1000, sleptMs: 59_000 }]);
      lifecycle.dispose();
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });
});
