/**
 * Own-stall awareness over real loopback sockets, TCP and WebSocket at once. The server
 * stalls for longer than its timeout but shorter than the clients' watchdog (interval +
 * timeout) — its event loop blocked by a busy loop in this process, or the whole server
 * process SIGSTOPped as a child — while clients in another process keep answering: after
 * it resumes, no peer dies. A client frozen (SIGSTOP) across the same window still dies,
 * within timeout + the stall. A naive server (`stallGuard: false`) kills every peer. A
 * server whose loop is saturated for good (busy slices, every tick late) still kills a
 * frozen client within timeout + the credit cap + one grace, and no live one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { monotonicNow, type StateChange } from '@vigil/core';
import { WS_SUBPROTOCOL } from '@vigil/protocol';
import { VigilServer, type LocalHealthSnapshot } from '../src/index.js';

const REPO_ROOT = resolve(__dirname, '../../..');
const FIXTURES = resolve(__dirname, 'fixtures');

/** Heartbeat interval and timeout (ms); the wheel tick is interval / 10. The clients' watchdog is their sum. */
const INTERVAL = 400;
const TIMEOUT = 1200;
const TICK = INTERVAL / 10;
/** The stall: 200 ms past the timeout, 200 ms short of the clients' watchdog (1600). */
const STALL = 1400;
/**
 * Slack on the frozen peer's death, beyond timeout + the stall the server measured: one
 * tick of wheel quantization, plus up to 160 ms more of scheduling delay on a loaded
 * 2-core machine (a tick late by more than two ticks is itself a credited stall).
 */
const MARGIN = TICK + 160;

const LIVE = ['live-tcp-0', 'live-ws-0', 'live-tcp-1', 'live-ws-1'];
const FROZEN = ['frozen-tcp-0', 'frozen-ws-0'];

type Line = { event: string } & Record<string, unknown>;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `condition` every 10 ms; fails after `timeoutMs`. */
async function until(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = monotonicNow() + timeoutMs;
  while (!condition()) {
    if (monotonicNow() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A fixture process speaking JSON lines; killed (SIGCONT then SIGKILL) on teardown whatever happened. */
class Child {
  readonly lines: Line[] = [];
  private stderr = '';

  private constructor(readonly process: ChildProcess) {
    createInterface({ input: process.stdout! }).on('line', (l) => this.lines.push(JSON.parse(l) as Line));
    process.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  static start(script: string, args: string[], teardown: (() => unknown)[]): Child {
    const p = spawn(process.execPath, ['--import', 'tsx', resolve(FIXTURES, script), ...args], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    teardown.push(async () => {
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGCONT');
      p.kill('SIGKILL');
      await exited;
    });
    return new Child(p);
  }

  get pid(): number {
    return this.process.pid!;
  }

  async next(event: string, timeoutMs = 20_000): Promise<Line> {
    const from = this.lines.length;
    let found: Line | undefined;
    await until(() => (found = this.lines.slice(from).find((l) => l.event === event) ?? this.lines.find((l) => l.event === event)) !== undefined || this.process.exitCode !== null, `${event} from ${this.process.spawnargs.join(' ')}`, timeoutMs);
    if (found === undefined) throw new Error(`fixture exited before ${event}: ${this.stderr}`);
    return found;
  }

  send(line: string): void {
    this.process.stdin!.write(`${line}\n`);
  }

  /** Sends `signal`; returns the monotonic time right after. */
  signal(signal: NodeJS.Signals): number {
    process.kill(this.pid, signal);
    return monotonicNow();
  }

  changes(): Line[] {
    return this.lines.filter((l) => l.event === 'change');
  }
}

interface Outcome {
  readonly changes: StateChange[];
  readonly liveClientChanges: Line[];
  readonly health: LocalHealthSnapshot;
  /** The stall as this test measured it, ms. */
  readonly stallMs: number;
}

/**
 * Runs one stall: live and frozen clients connect over TCP and WebSocket; the frozen
 * ones are SIGSTOPped; every peer is pinged (so the clients' watchdogs restart) and the
 * server stalls for STALL ms; then we watch until 2 × TIMEOUT after it resumed.
 */
async function runStall(how: 'block' | 'sigstop', detector: 'fixed' | 'phi', guarded = true): Promise<Outcome> {
  const teardown: (() => unknown)[] = [];
  try {
    const changes: StateChange[] = [];
    let ports: { tcp?: number; ws?: number };
    let serverChild: Child | null = null;
    let server: VigilServer | null = null;
    if (how === 'block') {
      server = new VigilServer({
        tcp: { port: 0 },
        ws: { port: 0 },
        heartbeat: { intervalMs: INTERVAL, timeoutMs: TIMEOUT },
        detector,
        ...(guarded ? {} : { stallGuard: false as const }),
      });
      const s = server;
      teardown.push(() => s.close());
      s.changes$.subscribe((c) => changes.push(c));
      ports = await s.listen();
    } else {
      serverChild = Child.start('stall-server.ts', [JSON.stringify({ detector, intervalMs: INTERVAL, timeoutMs: TIMEOUT })], teardown);
      const listening = await serverChild.next('listening');
      ports = { tcp: listening.tcp as number, ws: listening.ws as number };
    }
    const urls = [`tcp://127.0.0.1:${ports.tcp}`, `ws://127.0.0.1:${ports.ws}/`];
    const live = Child.start('stall-clients.ts', [...urls, 'live', '2'], teardown);
    const frozen = Child.start('stall-clients.ts', [...urls, 'frozen', '1'], teardown);
    await Promise.all([live.next('connected'), frozen.next('connected')]);
    // A few heartbeats first, so RTTs and (for phi) intervals are known.
    await sleep(3 * INTERVAL);
    frozen.signal('SIGSTOP');

    let stalledAt: number;
    let resumedAt: number;
    if (server !== null) {
      for (const peer of server.peers.values()) peer.connection.ping();
      // The event loop is blocked: no timer, no socket read, until the loop ends. In the
      // check phase, so that the next turn runs the expired timers before it reads.
      [stalledAt, resumedAt] = await new Promise<[number, number]>((done) =>
        setImmediate(() => {
          const from = monotonicNow();
          while (monotonicNow() - from < STALL);
          done([from, monotonicNow()]);
        }),
      );
    } else {
      const child = serverChild!;
      child.send('ping-all');
      await child.next('pinged');
      stalledAt = child.signal('SIGSTOP');
      await sleep(STALL - (monotonicNow() - stalledAt));
      resumedAt = child.signal('SIGCONT');
    }
    const frozenDead = () => FROZEN.every((id) => serverChanges().some((c) => c.peerId === id && (c.to === 'dead' || c.to === 'closed')));
    const serverChanges = (): StateChange[] => (serverChild === null ? changes : (serverChild.changes() as unknown as StateChange[]));
    await until(frozenDead, 'the frozen peers to die', TIMEOUT + STALL + 5000);
    // Long enough for any wrongful death: a live peer judged after the stall dies within one timeout.
    await sleep(Math.max(0, resumedAt + 2 * TIMEOUT - monotonicNow()));
    let health: LocalHealthSnapshot;
    if (server !== null) health = server.health();
    else {
      serverChild!.send('health');
      health = (await serverChild!.next('health')) as unknown as LocalHealthSnapshot;
    }
    // Copied now: the teardown's kills add ends of their own.
    return { changes: [...serverChanges()], liveClientChanges: live.changes(), health, stallMs: resumedAt - stalledAt };
  } finally {
    for (let step = teardown.pop(); step !== undefined; step = teardown.pop()) await step();
  }
}

/** Every way a live peer's session ended (on the server) or its client gave up on the server. */
function liveEnds(o: Outcome): string[] {
  const server = o.changes.filter((c) => LIVE.includes(c.peerId) && (c.to === 'dead' || c.to === 'closed')).map((c) => `server: ${c.peerId} ${c.to} (${c.cause})`);
  const clients = o.liveClientChanges.filter((c) => c.to === 'dead' || c.to === 'closed').map((c) => `client: ${String(c.id)} ${String(c.to)} (${String(c.cause)})`);
  return [...server, ...clients];
}

describe.each(['fixed', 'phi'] as const)('stall guard with the %s detector, over TCP and WebSocket', (detector) => {
  describe.each([
    ['its event loop blocked by a busy loop', 'block'],
    ['the whole server process SIGSTOPped', 'sigstop'],
  ] as const)('a server stalled by %s for timeout + 200 ms', (_label, how) => {
    let outcome: Outcome;

    beforeAll(async () => {
      outcome = await runStall(how, detector);
      const frozen = outcome.changes.filter((c) => FROZEN.includes(c.peerId) && c.to === 'dead').map((c) => Math.round(c.silenceMs));
      const suspects = outcome.changes.filter((c) => LIVE.includes(c.peerId) && c.to === 'suspect').length;
      console.log(
        `[${detector}/${how}] stall ${outcome.stallMs.toFixed(0)} ms (server measured ${outcome.health.longestStallMs.toFixed(0)}, credited ${outcome.health.stallMsTotal.toFixed(0)} in ${outcome.health.stalls} stalls, ${outcome.health.reprobes} re-probes); ` +
          `frozen peers dead after ${frozen.join(', ')} ms of silence (limit ${TIMEOUT} + the stall, credited up to ${TIMEOUT}); live peers suspected ${suspects}×`,
      );
    }, 60_000);

    it('kills no peer that kept answering, and no client gives up on the server', () => {
      expect(liveEnds(outcome)).toStrictEqual([]);
      expect(outcome.stallMs).toBeGreaterThan(TIMEOUT);
      expect(outcome.stallMs).toBeLessThan(INTERVAL + TIMEOUT);
    });

    it('measured its own stall', () => {
      const { health, stallMs } = outcome;
      expect(health.guarded).toBe(true);
      expect(health.stalls).toBeGreaterThanOrEqual(1);
      // Seen from the last tick or probe before the stall to the first after it.
      expect(health.longestStallMs).toBeGreaterThanOrEqual(stallMs - 2 * TICK);
      expect(health.longestStallMs).toBeLessThanOrEqual(stallMs + MARGIN);
    });

    it('still declares the frozen client dead, within timeout + the stall + one tick and scheduling slack', () => {
      const { changes, health } = outcome;
      for (const id of FROZEN) {
        const ends = changes.filter((c) => c.peerId === id && (c.to === 'dead' || c.to === 'closed'));
        expect(ends.map((c) => [c.to, c.cause])).toStrictEqual([['dead', 'heartbeat-timeout']]);
        const silence = ends[0]!.silenceMs;
        expect(silence).toBeGreaterThanOrEqual(TIMEOUT);
        // Effective silence reached its limit: raw silence is at most that plus every stall credited,
        // one tick of quantization and the tick's own lateness below the stall threshold (2 ticks).
        expect(silence).toBeLessThanOrEqual(TIMEOUT + health.stallMsTotal + 3 * TICK);
        expect(silence).toBeLessThanOrEqual(TIMEOUT + outcome.stallMs + MARGIN);
      }
    });
  });
});

describe('a naive server (stallGuard: false), for contrast', () => {
  it('kills every peer after the same stall: Node ran the expired timers before reading the answers', async () => {
    const outcome = await runStall('block', 'fixed', false);
    expect(outcome.health.guarded).toBe(false);
    const deaths = outcome.changes.filter((c) => LIVE.includes(c.peerId) && c.to === 'dead');
    expect(deaths.map((c) => c.peerId).sort()).toStrictEqual([...LIVE].sort());
    for (const c of deaths) {
      expect(c.cause).toBe('heartbeat-timeout');
      expect(c.silenceMs).toBeGreaterThanOrEqual(STALL);
    }
  }, 60_000);
});

/** One busy slice of the saturated loop, ms: every timer due during one runs up to this late. */
const SLICE = 150;

/**
 * Saturates this process's event loop until `stop()`: busy slices of `SLICE` ms, each
 * followed by one turn of the loop (timers, then socket reads) before the next.
 */
function saturate(): { stop(): void } {
  let running = true;
  const slice = (): void => {
    if (!running) return;
    const from = monotonicNow();
    while (monotonicNow() - from < SLICE);
    setImmediate(slice);
  };
  setImmediate(slice);
  return {
    stop: () => {
      running = false;
    },
  };
}

describe.each(['fixed', 'phi'] as const)('a server whose event loop is saturated for good, with the %s detector', (detector) => {
  it('still declares a frozen client dead within timeout + the credit cap + one grace, and no live one', async () => {
    const teardown: (() => unknown)[] = [];
    try {
      const server = new VigilServer({ tcp: { port: 0 }, ws: { port: 0 }, heartbeat: { intervalMs: INTERVAL, timeoutMs: TIMEOUT }, detector });
      teardown.push(() => server.close());
      const changes: StateChange[] = [];
      server.changes$.subscribe((c) => changes.push(c));
      const ports = await server.listen();
      const urls = [`tcp://127.0.0.1:${ports.tcp}`, `ws://127.0.0.1:${ports.ws}/`];
      const live = Child.start('stall-clients.ts', [...urls, 'live', '1'], teardown);
      const frozen = Child.start('stall-clients.ts', [...urls, 'frozen', '1'], teardown);
      await Promise.all([live.next('connected'), frozen.next('connected')]);
      await sleep(3 * INTERVAL);

      const before = server.health();
      const loop = saturate();
      teardown.push(() => loop.stop());
      const saturatedAt = monotonicNow();
      frozen.signal('SIGSTOP');
      const frozenIds = ['frozen-tcp-0', 'frozen-ws-0'];
      const frozenDead = () => frozenIds.every((id) => changes.some((c) => c.peerId === id && c.to === 'dead'));
      // Without the cap, never (the credited stalls cover nearly all of the time).
      await until(frozenDead, 'the frozen peers to die', 5 * TIMEOUT);
      // Saturated long enough for any wrongful death of a live peer: two timeouts more.
      await sleep(2 * TIMEOUT);
      loop.stop();
      const saturatedMs = monotonicNow() - saturatedAt;
      const health = server.health();
      const creditedMs = health.stallMsTotal - before.stallMsTotal;
      const silences = changes.filter((c) => frozenIds.includes(c.peerId) && c.to === 'dead').map((c) => Math.round(c.silenceMs));
      console.log(
        `[${detector}/saturated] ${Math.round(saturatedMs)} ms in ${SLICE} ms busy slices: ${health.stalls - before.stalls} stalls credited ${Math.round(creditedMs)} ms ` +
          `(lag max ${health.eventLoopLagMaxMs} ms, ${health.reprobes - before.reprobes} re-probes); frozen peers dead after ${silences.join(', ')} ms of silence (bound ${TIMEOUT} + ${TIMEOUT} + ${INTERVAL})`,
      );

      // Saturated indeed: most of the time was credited as our own stalls.
      expect(creditedMs).toBeGreaterThan(saturatedMs / 2);
      for (const id of frozenIds) {
        const ends = changes.filter((c) => c.peerId === id && (c.to === 'dead' || c.to === 'closed'));
        expect(ends.map((c) => [c.to, c.cause])).toStrictEqual([['dead', 'heartbeat-timeout']]);
        // Raw silence: at most timeout + the credit cap (one timeout) + one re-probe grace (at most one
        // interval), plus a tick of quantization, two slices of lateness (the judging tick's, the
        // grace's) and the scheduling slack of MARGIN.
        expect(ends[0]!.silenceMs).toBeGreaterThanOrEqual(TIMEOUT);
        expect(ends[0]!.silenceMs).toBeLessThanOrEqual(TIMEOUT + TIMEOUT + INTERVAL + 2 * SLICE + MARGIN);
      }
      const liveEnded = changes.filter((c) => c.peerId.startsWith('live-') && (c.to === 'dead' || c.to === 'closed'));
      const clientsGaveUp = live.changes().filter((c) => c.to === 'dead' || c.to === 'closed');
      expect([liveEnded, clientsGaveUp]).toStrictEqual([[], []]);
    } finally {
      for (let step = teardown.pop(); step !== undefined; step = teardown.pop()) await step();
    }
  }, 60_000);
});

describe('the WebSocket upgrade deadline', () => {
  const HANDSHAKE = 300;

  /** Sends an upgrade request, stalls this process past the handshake deadline, and says how the server answered. */
  async function upgradeThroughStall(stallGuard: boolean): Promise<'upgraded' | 'dropped'> {
    const server = new VigilServer({ ws: { port: 0 }, heartbeat: { handshakeTimeoutMs: HANDSHAKE }, ...(stallGuard ? {} : { stallGuard: false as const }) });
    const socket = new Socket();
    try {
      const { ws } = await server.listen();
      let response = '';
      const ended = new Promise<'upgraded' | 'dropped'>((done) => {
        socket.on('data', (d: Buffer) => {
          response += d.toString('latin1');
          if (response.includes('\r\n\r\n')) done(response.startsWith('HTTP/1.1 101') ? 'upgraded' : 'dropped');
        });
        socket.on('close', () => done('dropped'));
        socket.on('error', () => done('dropped'));
      });
      await new Promise<void>((r) => socket.connect(ws!, '127.0.0.1', r));
      await sleep(50); // the server accepts it and starts its deadline
      // In the check phase, after this turn's socket reads: the request waits unread through
      // our stall, and the next turn of the loop runs the expired timers before it reads.
      setImmediate(() => {
        socket.write(
          `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${WS_SUBPROTOCOL}\r\n\r\n`,
        );
        const from = monotonicNow();
        while (monotonicNow() - from < 2 * HANDSHAKE);
      });
      return await ended;
    } finally {
      socket.destroy();
      await server.close();
    }
  }

  it('does not drop a client whose upgrade request waited, unread, through our own stall', async () => {
    expect(await upgradeThroughStall(true)).toBe('upgraded');
  });

  it('a naive server does, for contrast', async () => {
    expect(await upgradeThroughStall(false)).toBe('dropped');
  });
});
