/**
 * Replays heartbeat traces through the real `LivenessEngine` and `PeerMonitor` in
 * virtual time, one monitor per detector configuration, and records what Chen, Toueg and
 * Aguilera ("On the quality of service of failure detectors", IEEE ToC 2002) measure:
 * mistakes on the crash-free trace, and detection time after crashes injected into it.
 */
import { LivenessEngine, PeerMonitor, type DetectorFactory, type PeerTiming, type StateChange } from '@vigil/core';
import { VirtualScheduler } from '../internal/virtual-scheduler.js';
import { arrivalsOf, type Trace } from './traces.js';

/** One detector configuration under test. */
export interface DetectorConfig {
  readonly family: 'fixed' | 'phi';
  /** Shown in tables, e.g. `fixed 1.5×` or `phi 3`. */
  readonly label: string;
  /** The swept value: the suspect timeout in intervals (fixed), or φ (phi). */
  readonly threshold: number;
  readonly factory: DetectorFactory;
  /** The peer timing for a trace's interval (its `timeoutMs` is the monitor's hard cap). */
  readonly timing: (intervalMs: number) => PeerTiming;
}

export interface ReplayOptions {
  /** Heartbeats a crash monitor sees before the crash (its history). Default 120. */
  readonly warmup?: number;
  /** A crash is injected after every this many heartbeats of each peer. Default 20. */
  readonly crashEvery?: number;
  /** Wheel tick as a fraction of the interval. Default 0.01. */
  readonly tickFraction?: number;
  /** A crash not detected within this many intervals counts as undetected. Default 30. */
  readonly horizonIntervals?: number;
}

/** Raw counts for one configuration on one trace. */
export interface ReplayResult {
  readonly config: DetectorConfig;
  readonly trace: string;
  /** Crash-free time observed, ms (first to last arrival of every peer). */
  observedMs: number;
  /** alive → suspect while the peer was up. */
  falseSuspicions: number;
  /** Declared dead while the peer was up (the monitor then restarts at the next heartbeat, as a reconnect would). */
  falseDeaths: number;
  /** Time the output was wrong on the crash-free run (suspect, or dead until the restart), ms. */
  mistrustMs: number;
  /** For each injected crash: ms from the last heartbeat to `suspect`. */
  readonly suspectAfterCrash: number[];
  /** For each injected crash: ms from the last heartbeat to `dead`. */
  readonly deadAfterCrash: number[];
  /** Crashes with no verdict within the horizon. */
  undetected: number;
}

const HANDSHAKE_MS = 1e12;

interface Watch {
  readonly result: ReplayResult;
  change(c: StateChange): void;
}

/** Replays `trace` through every configuration at once (one engine, one wheel, one clock). */
export function replay(trace: Trace, configs: readonly DetectorConfig[], options: ReplayOptions = {}): ReplayResult[] {
  const warmup = options.warmup ?? 120;
  const crashEvery = options.crashEvery ?? 20;
  const interval = trace.intervalMs;
  const horizon = (options.horizonIntervals ?? 30) * interval;
  const scheduler = new VirtualScheduler();
  // Each monitor gets its configuration's detector: `start` calls the factory synchronously.
  let factory: DetectorFactory = configs[0]!.factory;
  const engine = new LivenessEngine({ scheduler, tickMs: interval * (options.tickFraction ?? 0.01), detector: (t, s) => factory(t, s), random: () => 0.5 });
  const watches = new Map<string, Watch>();
  engine.changes$.subscribe((c) => watches.get(c.peerId)?.change(c));
  let nextId = 0;
  const advanceTo = (t: number): void => scheduler.advanceTo(t);
  const open = (config: DetectorConfig, watch: (id: string, monitor: PeerMonitor) => Watch): PeerMonitor => {
    const id = String(nextId++);
    factory = config.factory;
    const monitor: PeerMonitor = new PeerMonitor(engine, id, { expire: (cause) => monitor.end('dead', cause) }, HANDSHAKE_MS);
    watches.set(id, watch(id, monitor));
    monitor.start(config.timing(interval), false);
    return monitor;
  };
  const results: ReplayResult[] = configs.map((config) => ({
    config,
    trace: trace.name,
    observedMs: 0,
    falseSuspicions: 0,
    falseDeaths: 0,
    mistrustMs: 0,
    suspectAfterCrash: [],
    deadAfterCrash: [],
    undetected: 0,
  }));

  /** The crash-free run of one configuration on one peer. */
  class Mistakes implements Watch {
    monitor: PeerMonitor | null = null;
    private wrongSince = Number.NaN;
    constructor(readonly result: ReplayResult) {}

    change(c: StateChange): void {
      if (c.to === 'suspect') {
        this.result.falseSuspicions++;
        this.wrongSince = c.at;
      } else if (c.to === 'alive' && c.from === 'suspect') {
        this.result.mistrustMs += c.at - this.wrongSince;
        this.wrongSince = Number.NaN;
      } else if (c.to === 'dead') {
        this.result.falseDeaths++;
        if (Number.isNaN(this.wrongSince)) this.wrongSince = c.at;
      }
    }

    arrival(config: DetectorConfig, t: number, last: boolean): void {
      const m = this.monitor;
      if (m === null || m.state === 'dead') {
        if (m !== null) {
          // Wrong from the death (or the suspicion before it) until this heartbeat restarts monitoring.
          this.result.mistrustMs += t - this.wrongSince;
          this.wrongSince = Number.NaN;
          watches.delete(m.id);
        }
        this.monitor = open(config, () => this);
      } else {
        m.touch(true);
      }
      if (last) {
        const done = this.monitor!;
        watches.delete(done.id);
        done.end('closed', 'local-close');
      }
    }
  }

  /** A crash after heartbeat `crashIndex`: the monitor sees `warmup` heartbeats, then silence. */
  class Crash implements Watch {
    crashAt = Number.NaN;
    private suspected = false;
    constructor(
      readonly result: ReplayResult,
      readonly monitor: PeerMonitor,
      readonly crashIndex: number,
      private readonly twoLevels: boolean,
    ) {}

    change(c: StateChange): void {
      if (Number.isNaN(this.crashAt)) return;
      if (c.to === 'suspect' && !this.suspected) {
        this.suspected = true;
        this.result.suspectAfterCrash.push(c.at - this.crashAt);
        if (!this.twoLevels) this.finish();
      } else if (c.to === 'dead') {
        if (!this.suspected) this.result.suspectAfterCrash.push(c.at - this.crashAt);
        this.result.deadAfterCrash.push(c.at - this.crashAt);
        this.finish();
      }
    }

    finish(): void {
      watches.delete(this.monitor.id);
      this.monitor.end('closed', 'local-close');
    }
  }

  // Every arrival of every peer, in time order.
  const peers = trace.peers.map((p) => arrivalsOf(p));
  const events: { t: number; peer: number; index: number }[] = [];
  peers.forEach((arrivals, peer) => arrivals.forEach((t, index) => events.push({ t, peer, index })));
  events.sort((a, b) => a.t - b.t || a.peer - b.peer);
  const mistakes = peers.map(() => results.map((r) => new Mistakes(r)));
  const crashes = peers.map(() => results.map(() => [] as Crash[]));
  const pending: Crash[] = [];
  const twoLevels = configs.map((c) => c.timing(interval).timeoutMs < horizon);

  for (const { t, peer, index } of events) {
    advanceTo(t);
    const arrivals = peers[peer]!;
    const last = index === arrivals.length - 1;
    if (index === 0) for (const r of results) r.observedMs += arrivals[arrivals.length - 1]! - arrivals[0]!;
    configs.forEach((config, c) => {
      mistakes[peer]![c]!.arrival(config, t, last);
      const active = crashes[peer]![c]!;
      for (let i = 0; i < active.length; i++) {
        const crash = active[i]!;
        if (crash.monitor.state === 'dead' || crash.monitor.state === 'closed') {
          // A false death during the warm-up: this crash point is dropped.
          active.splice(i--, 1);
          continue;
        }
        crash.monitor.touch(true);
        if (index === crash.crashIndex) {
          crash.crashAt = t;
          pending.push(crash);
          active.splice(i--, 1);
        }
      }
      if (index % crashEvery === 0 && index + warmup < arrivals.length - 1) {
        let crash: Crash | null = null;
        const monitor = open(config, () => ({ result: results[c]!, change: (ch) => crash?.change(ch) }));
        crash = new Crash(results[c]!, monitor, index + warmup, twoLevels[c]!);
        active.push(crash);
      }
    });
  }
  const end = events.length === 0 ? 0 : events[events.length - 1]!.t;
  advanceTo(end + horizon + interval);
  for (const crash of pending) {
    if (crash.monitor.state === 'closed' || crash.monitor.state === 'dead') continue;
    crash.result.undetected++;
    crash.finish();
  }
  return results;
}
