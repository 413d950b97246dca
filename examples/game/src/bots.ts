/**
 * `pnpm --filter game bots -- --players 1000 [--seconds 20] [--url http://host:port]`:
 * headless players over Vigil's Node client. Without `--url` it starts a game server in a
 * child process (so the server's tick is measured apart from the bots' own work), joins
 * the bots in batches, lets them play, prints progress every second, then a report of the
 * server's tick time and the RTTs, and stops everything by itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { VigilClient } from '@vigil/client';
import type { ClientMessage, ServerMessage } from './game-protocol.js';
import type { GameStats } from './game-server.js';
import { percentiles } from './stats.js';

const HERE = typeof __dirname === 'string' ? __dirname : dirname(fileURLToPath(import.meta.url));

export interface Bot {
  readonly client: VigilClient<ServerMessage, ClientMessage>;
  seat: number;
  states: number;
  /** Sends a random direction (sometimes standing still), stamped on the server's clock. */
  move(): boolean;
}

/** A bot as the load test and the tests use it: an id, a Vigil client, a seat once joined. */
export function createBot(origin: string, id: string, options: { readonly reconnectMs?: number } = {}): Bot {
  const client = new VigilClient<ServerMessage, ClientMessage>(`${origin.replace(/^http/, 'ws')}/vigil`, {
    id,
    resume: false,
    reconnect: { initialMs: options.reconnectMs ?? 200, maxMs: options.reconnectMs ?? 2000 },
  });
  let seq = 0;
  const bot: Bot = {
    client,
    seat: -1,
    states: 0,
    move: () => {
      const pick = (): number => Math.floor(Math.random() * 3) - 1;
      const offset = Number.isNaN(client.clockOffsetMs) ? 0 : client.clockOffsetMs;
      return client.send({ t: 'input', seq: ++seq, dx: pick(), dy: pick(), at: client.engine.now() + offset });
    },
  };
  client.messages$.subscribe((m) => {
    if (m.t === 'joined') bot.seat = m.seat;
    else bot.states++;
  });
  return bot;
}

/** Starts `src/main.ts` on a free port in a child process; resolves with its origin. */
export function startServerProcess(): Promise<{ origin: string; child: ChildProcess }> {
  // GAME_NODE_ARGS: extra node flags for the server (e.g. `--cpu-prof`).
  const extra = process.env['GAME_NODE_ARGS']?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...extra, '--import', 'tsx', join(HERE, 'main.ts'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ origin: m[1]!, child });
    });
    child.once('exit', (code) => reject(new Error(`game server exited with ${String(code)}: ${out}`)));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((a) => a !== '--'),
    options: {
      players: { type: 'string', default: '1000' },
      seconds: { type: 'string', default: '20' },
      url: { type: 'string' },
      batch: { type: 'string', default: '100' },
      warmup: { type: 'string', default: '3' },
    },
  });
  const players = Number(values.players);
  const seconds = Number(values.seconds);
  const warmup = Number(values.warmup);
  const server = values.url === undefined ? await startServerProcess() : null;
  const origin = values.url ?? server!.origin;
  const fetchStats = async (): Promise<GameStats> => (await (await fetch(`${origin}/stats`)).json()) as GameStats;
  console.log(`bots: ${players} players against ${origin}${server ? ' (started here)' : ''}, ${seconds} s of play`);

  const bots: Bot[] = [];
  const joinStarted = performance.now();
  for (let i = 0; i < players; i += Number(values.batch)) {
    const batch: Promise<void>[] = [];
    for (let j = i; j < Math.min(players, i + Number(values.batch)); j++) {
      const bot = createBot(origin, `bot-${j}`);
      bots.push(bot);
      batch.push(bot.client.connect());
    }
    await Promise.all(batch);
  }
  console.log(`bots: ${bots.length} connected in ${Math.round(performance.now() - joinStarted)} ms; ${warmup} s of warm-up before measuring`);

  // Each bot changes direction about once a second, at its own phase.
  const mover = setInterval(() => {
    for (const bot of bots) if (Math.random() < 0.1) bot.move();
  }, 100);
  const rtts: number[] = [];
  const started = performance.now();
  for (let s = 1; s <= seconds; s++) {
    await new Promise((r) => setTimeout(r, started + s * 1000 - performance.now()));
    const now: number[] = [];
    for (const bot of bots) if (!Number.isNaN(bot.client.rttMs)) now.push(bot.client.rttMs);
    // The join burst and JIT warm-up are not the steady state: measure from `warmup` on.
    if (s === warmup) await fetch(`${origin}/stats`, { method: 'POST' });
    if (s > warmup) rtts.push(...now);
    const stats = await fetchStats();
    const [r50] = percentiles(now, 50);
    console.log(
      `t=${s}s players=${stats.players} alive=${bots.filter((b) => b.client.status.state === 'alive').length} tick p99=${stats.tickMs.p99} ms max=${stats.tickMs.max} ms  rtt p50=${r50?.toFixed(1)} ms`,
    );
  }
  clearInterval(mover);
  const stats = await fetchStats();
  const [r50, r99] = percentiles(rtts, 50, 99);
  const seated = new Set(bots.map((b) => b.seat).filter((s) => s >= 0)).size;
  console.log('\nreport');
  console.log(`  players          ${stats.players} in the match, ${seated} distinct seats, ${stats.removed} removed, ${bots.filter((b) => b.states > 0).length} receiving state`);
  console.log(`  ticks            ${stats.ticks} at 20 Hz measured (after ${warmup} s of warm-up), each player sent its view at 10 Hz`);
  console.log(`  tick time        p50 ${stats.tickMs.p50} ms, p99 ${stats.tickMs.p99} ms, max ${stats.tickMs.max} ms`);
  console.log(`  tick lateness    p50 ${stats.lateMs.p50} ms, p99 ${stats.lateMs.p99} ms, max ${stats.lateMs.max} ms`);
  console.log(`  RTT (bots)       p50 ${r50?.toFixed(2)} ms, p99 ${r99?.toFixed(2)} ms`);
  console.log(`  RTT (server)     p50 ${stats.rttMs.p50} ms, p99 ${stats.rttMs.p99} ms`);
  console.log(`  input delay      p50 ${stats.inputDelayMs.p50} ms, p99 ${stats.inputDelayMs.p99} ms (timestamped with Vigil's clock offset)`);
  await Promise.all(bots.map((b) => b.client.close()));
  if (server) {
    const exited = new Promise((r) => server.child.once('exit', r));
    server.child.kill('SIGTERM');
    await exited;
  }
}

if (process.argv[1] !== undefined && process.argv[1].endsWith('bots.ts')) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
