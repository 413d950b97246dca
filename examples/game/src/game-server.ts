/**
 * `GameServer`: the authoritative game. One HTTP server (127.0.0.1 by default) serves the
 * canvas page, the client package's browser build and `/stats`, and carries Vigil's
 * WebSocket endpoint on `/vigil`. A fixed tick (20 Hz) applies inputs, steps the match and
 * sends each player its view. Vigil's liveness decides membership: `alive` joins (or
 * rejoins into the held seat within the grace window), `dead` or `closed` removes.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HeartbeatOptions, StateChange } from '@vigil/core';
import { VigilServer, type PeerMessage } from '@vigil/server';
import type { Logger } from 'pino';
import { Subscription } from 'rxjs';
import { parseClientMessage, type PlayerView, type ServerMessage } from './game-protocol.js';
import { MATCH_DEFAULTS, Match, type MatchOptions, type Player } from './match.js';
import { Sample, percentiles } from './stats.js';
import { ViewGrid, viewOf } from './view.js';

// Jest runs this as CommonJS (`import.meta` is never evaluated there); tsx runs it as ESM.
const HERE = typeof __dirname === 'string' ? __dirname : dirname(fileURLToPath(import.meta.url));
/** The page and its script. */
export const PUBLIC_DIR = join(HERE, '../public');

export interface GameServerOptions extends MatchOptions {
  /** Port for HTTP and WebSocket; 0 picks one. Default 8080. */
  readonly port?: number;
  /** Interface to bind. Default '127.0.0.1'. */
  readonly host?: string;
  /** Ticks per second. Default 20. */
  readonly tickHz?: number;
  /** Vigil heartbeat. Default: ping every 500 ms, dead after 2000 ms of silence. */
  readonly heartbeat?: HeartbeatOptions;
  /** Silence allowed a player whose tab is in the background, ms (Vigil background mode). Default 10000. */
  readonly hiddenTimeoutMs?: number;
  /**
   * Each player gets its view every this many ticks, players staggered by seat so every
   * tick sends to an equal share. Default 2 (20 Hz simulation, 10 Hz snapshots per player).
   */
  readonly snapshotEvery?: number;
  /** The browser bundle to serve at `/vigil-client.browser.js`. Default: none (404). */
  readonly browserBundle?: string;
  readonly logger?: Logger;
}

/** What `/stats` and `stats()` report. */
export interface GameStats {
  readonly tick: number;
  readonly players: number;
  readonly ticks: number;
  /** Ms spent in a tick (inputs are applied as they arrive; a tick steps the match and sends every view). */
  readonly tickMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Ms the tick started after it was due. */
  readonly lateMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** The server's smoothed RTT to each player now, ms. */
  readonly rttMs: { readonly p50: number; readonly p99: number };
  /** Inputs' one-way delay as timestamped with Vigil's clock offset, ms. */
  readonly inputDelayMs: { readonly p50: number; readonly p99: number };
  readonly removed: number;
  readonly rejoined: number;
}

const round = (v: number): number => Math.round(v * 100) / 100;

export class GameServer {
  readonly match: Match;
  readonly vigil: VigilServer<unknown, ServerMessage>;
  readonly http: Server;
  readonly tickHz: number;
  /** Players removed because their connection died or closed. */
  removed = 0;
  /** Joins that took back a held seat. */
  rejoined = 0;
  private readonly tickMs: number;
  private readonly snapshotEvery: number;
  private readonly tickTimes = new Sample();
  private readonly lateness = new Sample();
  private readonly inputDelays = new Sample(10_000);
  private readonly grid = new ViewGrid();
  private readonly subscriptions = new Subscription();
  private readonly files: Record<string, [path: string, type: string]>;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private nextAt = 0;
  private lastStep = 0;
  private port = 0;

  constructor(private readonly options: GameServerOptions = {}) {
    this.tickHz = options.tickHz ?? MATCH_DEFAULTS.tickHz;
    this.tickMs = 1000 / this.tickHz;
    this.snapshotEvery = options.snapshotEvery ?? 2;
    this.match = new Match(options);
    this.files = {
      '/': [join(PUBLIC_DIR, 'index.html'), 'text/html; charset=utf-8'],
      '/game.js': [join(PUBLIC_DIR, 'game.js'), 'text/javascript; charset=utf-8'],
      ...(options.browserBundle
        ? {
            '/vigil-client.browser.js': [options.browserBundle, 'text/javascript; charset=utf-8'] as [string, string],
            '/vigil-client.browser.js.map': [`${options.browserBundle}.map`, 'application/json'] as [string, string],
          }
        : {}),
    };
    this.http = createServer((req, res) => this.serve(req, res));
    this.vigil = new VigilServer<unknown, ServerMessage>({
      host: options.host ?? '127.0.0.1',
      ws: { server: this.http, path: '/vigil' },
      heartbeat: options.heartbeat ?? { intervalMs: 500, timeoutMs: 2000 },
      hiddenTimeoutMs: options.hiddenTimeoutMs ?? 10_000,
      // Every bot of a load test dials from 127.0.0.1.
      connectionRate: false,
      ...(options.logger ? { logger: options.logger } : {}),
    });
    this.subscriptions.add(this.vigil.changes$.subscribe((c) => this.changed(c)));
    this.subscriptions.add(this.vigil.messages$.subscribe((m) => this.received(m)));
  }

  /** The server clock (Vigil's: the one its pings carry, so clients' offsets refer to it), ms. */
  now(): number {
    return this.vigil.engine.now();
  }

  /** `http://host:port` once listening. */
  get origin(): string {
    return `http://${this.options.host ?? '127.0.0.1'}:${this.port}`;
  }

  /** Listens and starts ticking; resolves with the origin. */
  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.options.port ?? 8080, this.options.host ?? '127.0.0.1', () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    this.port = (this.http.address() as AddressInfo).port;
    await this.vigil.listen();
    this.lastStep = this.nextAt = performance.now();
    this.schedule();
    return this.origin;
  }

  /** Stops ticking, closes every connection and the HTTP server. */
  async close(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.subscriptions.unsubscribe();
    await this.vigil.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  stats(): GameStats {
    const [t50, t99] = this.tickTimes.percentiles(50, 99);
    const [l50, l99] = this.lateness.percentiles(50, 99);
    const [d50, d99] = this.inputDelays.percentiles(50, 99);
    const rtts: number[] = [];
    for (const peer of this.vigil.peers.values()) if (!Number.isNaN(peer.rttMs)) rtts.push(peer.rttMs);
    const [r50, r99] = percentiles(rtts, 50, 99);
    return {
      tick: this.match.tick,
      players: this.match.size,
      ticks: this.tickTimes.count,
      tickMs: { p50: round(t50!), p99: round(t99!), max: round(this.tickTimes.max) },
      lateMs: { p50: round(l50!), p99: round(l99!), max: round(this.lateness.max) },
      rttMs: { p50: round(r50!), p99: round(r99!) },
      inputDelayMs: { p50: round(d50!), p99: round(d99!) },
      removed: this.removed,
      rejoined: this.rejoined,
    };
  }

  /** Starts the tick, lateness and input-delay figures afresh (after a load test's join phase). */
  resetStats(): void {
    this.tickTimes.reset();
    this.lateness.reset();
    this.inputDelays.reset();
  }

  /** Fixed rate without drift: each tick is due `tickMs` after the previous one was due. */
  private schedule(): void {
    this.nextAt += this.tickMs;
    this.timer = setTimeout(() => this.tick(), Math.max(0, this.nextAt - performance.now()));
  }

  private tick(): void {
    const started = performance.now();
    // A timer may fire a fraction of a ms early (its clock rounds): that is on time.
    this.lateness.add(Math.max(0, started - this.nextAt));
    // Behind by more than a tick (a stall): skip the missed ticks rather than run a burst.
    if (started - this.nextAt > this.tickMs) this.nextAt = started;
    this.match.step(started - this.lastStep, this.now());
    this.lastStep = started;
    this.broadcast();
    this.tickTimes.add(performance.now() - started);
    if (this.timer !== null) this.schedule();
  }

  private broadcast(): void {
    const match = this.match;
    this.grid.build(match.all());
    const time = Math.round(this.now());
    const share = match.tick % this.snapshotEvery;
    // One view per player per tick, made when first needed.
    const views = new Map<Player, PlayerView>();
    const view = (p: Player): PlayerView => {
      let v = views.get(p);
      if (v === undefined) views.set(p, (v = viewOf(p, this.vigil.peers.get(p.id)?.rttMs ?? Number.NaN)));
      return v;
    };
    for (const p of match.all()) {
      if (p.seat % this.snapshotEvery !== share) continue;
      const peer = this.vigil.peers.get(p.id);
      if (!peer) continue;
      const players = [view(p)];
      for (const q of this.grid.neighbours(p, MATCH_DEFAULTS.viewNeighbours)) players.push(view(q));
      peer.send({ t: 'state', tick: match.tick, time, players, count: match.size, ack: p.lastSeq });
    }
  }

  private changed(c: StateChange): void {
    if (c.to === 'alive' && c.from === 'connecting') {
      const peer = this.vigil.peers.get(c.peerId);
      const seat = this.match.join(c.peerId, this.now());
      if (!peer) return;
      if (seat === null) {
        peer.logger.info('match full');
        return;
      }
      if (seat.rejoined) this.rejoined++;
      peer.send({ t: 'joined', seat: seat.seat, rejoined: seat.rejoined, tickHz: this.tickHz, world: this.match.world });
    } else if (c.to === 'dead' || c.to === 'closed') {
      // A player back on a newer connection already (it replaced this one) stays.
      const current = this.vigil.peers.get(c.peerId)?.state;
      if (current === 'alive' || current === 'suspect') return;
      if (this.match.remove(c.peerId, this.now())) this.removed++;
    }
  }

  private received({ peer, message }: PeerMessage<unknown, ServerMessage>): void {
    const m = parseClientMessage(message);
    if (m === null) return;
    const now = this.now();
    if (this.match.input(peer.id, m.seq, m.dx, m.dy, m.at, now)) this.inputDelays.add(now - m.at);
  }

  private serve(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/stats') {
      if (req.method === 'POST') {
        this.resetStats();
        res.writeHead(204).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(this.stats()));
      return;
    }
    const file = this.files[path];
    if (file === undefined) {
      res.writeHead(404).end();
      return;
    }
    try {
      res.writeHead(200, { 'content-type': file[1], 'cache-control': 'no-store' }).end(readFileSync(file[0]));
    } catch {
      res.writeHead(404).end();
    }
  }
}
