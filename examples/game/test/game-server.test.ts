/**
 * The game over real loopback sockets (127.0.0.1, port 0): a bot joins, plays (its
 * timestamped input moves it), hangs (a frozen proxy: silence, no close) and is removed
 * within the heartbeat timeout, then rejoins into the same seat within the grace window.
 */
import type { StateChange } from '@vigil/core';
import { firstValueFrom, filter, timeout } from 'rxjs';
import { createBot, type Bot } from '../src/bots.js';
import { GameServer } from '../src/game-server.js';
import type { ServerMessage } from '../src/game-protocol.js';
import { freezableProxy, type FreezableProxy } from './support/freezable-proxy.js';

const INTERVAL_MS = 100;
const TIMEOUT_MS = 400;
/** Slack for a loaded 2-core machine: the wheel tick, scheduling, the proxy. */
const MARGIN_MS = 1000;

describe('GameServer over loopback', () => {
  let game: GameServer;
  let proxy: FreezableProxy;
  const bots: Bot[] = [];

  beforeEach(async () => {
    game = new GameServer({ port: 0, heartbeat: { intervalMs: INTERVAL_MS, timeoutMs: TIMEOUT_MS }, graceMs: 20_000, random: () => 0.5 });
    await game.listen();
    proxy = await freezableProxy(Number(new URL(game.origin).port));
  });

  afterEach(async () => {
    for (const b of bots.splice(0)) await b.client.close();
    await proxy.close();
    await game.close();
  });

  const message = <T extends ServerMessage['t']>(bot: Bot, t: T, where: (m: Extract<ServerMessage, { t: T }>) => boolean = () => true, ms = 5000) =>
    firstValueFrom(
      bot.client.messages$.pipe(
        filter((m): m is Extract<ServerMessage, { t: T }> => m.t === t && where(m as Extract<ServerMessage, { t: T }>)),
        timeout(ms),
      ),
    );
  const change = (where: (c: StateChange) => boolean, ms: number) => firstValueFrom(game.vigil.changes$.pipe(filter(where), timeout(ms)));

  it('a bot joins, gets state every other tick, and its input (stamped on the server clock) moves it', async () => {
    const bot = createBot(game.origin, 'player-1');
    bots.push(bot);
    const joined = message(bot, 'joined');
    await bot.client.connect();
    expect(await joined).toEqual({ t: 'joined', seat: 0, rejoined: false, tickHz: 20, world: { width: 1600, height: 1000 } });
    const first = await message(bot, 'state');
    expect(first.players[0]).toMatchObject({ seat: 0, x: 800, y: 500 });
    expect(first.count).toBe(1);
    // Heartbeats have given the client an RTT and a clock offset by now.
    await message(bot, 'state', () => !Number.isNaN(bot.client.rttMs) && !Number.isNaN(bot.client.clockOffsetMs));
    const offset = bot.client.clockOffsetMs;
    expect(bot.client.send({ t: 'input', seq: 1, dx: 1, dy: 0, at: bot.client.engine.now() + offset })).toBe(true);
    const moved = await message(bot, 'state', (m) => m.ack === 1 && m.players[0]!.x > 800);
    expect(moved.players[0]!.y).toBe(500);
    // Stamped with the offset, the input's one-way delay is small and never hugely negative on loopback.
    const delay = game.match.player('player-1')!.inputDelayMs;
    expect(Math.abs(delay)).toBeLessThan(MARGIN_MS);
  });

  it('a bot whose heartbeat dies is removed within the timeout and rejoins into the same seat within grace', async () => {
    const other = createBot(game.origin, 'other');
    bots.push(other);
    await other.client.connect();
    const bot = createBot(proxy.origin, 'hung', { reconnectMs: 100 });
    bots.push(bot);
    const joined = message(bot, 'joined');
    await bot.client.connect();
    const seat = (await joined).seat;
    expect(seat).toBe(1);
    const dead = change((c) => c.peerId === 'hung' && c.to === 'dead', TIMEOUT_MS + MARGIN_MS + 2000);
    const frozenAt = performance.now();
    proxy.freeze();
    const death = await dead;
    const after = performance.now() - frozenAt;
    expect(death.cause).toBe('heartbeat-timeout');
    expect(death.silenceMs).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(after).toBeLessThanOrEqual(TIMEOUT_MS + MARGIN_MS);
    expect(game.match.player('hung')).toBeUndefined();
    expect(game.match.reservation('hung')).toBe(seat);
    expect(game.removed).toBe(1);
    // Meanwhile someone new does not get the held seat.
    const late = createBot(game.origin, 'late');
    bots.push(late);
    const lateJoined = message(late, 'joined');
    await late.client.connect();
    expect((await lateJoined).seat).toBe(2);
    // Back: the bot's client reconnects by itself and sits in its old seat.
    const rejoined = message(bot, 'joined', (m) => m.rejoined, 10_000);
    proxy.thaw();
    expect(await rejoined).toMatchObject({ seat, rejoined: true });
    expect(game.match.player('hung')?.seat).toBe(seat);
    expect(game.rejoined).toBe(1);
  });

  it('serves the page, its script, the browser build (when given) and /stats', async () => {
    const page = await fetch(`${game.origin}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<canvas id="world"');
    expect((await fetch(`${game.origin}/game.js`)).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await fetch(`${game.origin}/vigil-client.browser.js`)).status).toBe(404);
    const stats = (await (await fetch(`${game.origin}/stats`)).json()) as { players: number; ticks: number };
    expect(stats.players).toBe(0);
    expect((await fetch(`${game.origin}/stats`, { method: 'POST' })).status).toBe(204);
  });
});
