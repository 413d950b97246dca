/**
 * Records a heartbeat trace from real loopback sockets under CPU load: a Vigil server in
 * this process (TCP and WebSocket), clients in child processes, and busy-loop processes
 * switched on and off in phases. Every pong's arrival time, as the server's detector
 * sees it, goes into `packages/bench/traces/<name>.json`.
 *
 *   tsx packages/bench/src/detectors/record-trace.ts [--seconds 240] [--interval 250]
 *     [--clients 3] [--load 3] [--name loopback-cpu-load]
 *
 * (`--client <url> <id>` is the child mode: one Vigil client answering pings.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { VigilClient } from '@vigil/client';
import { FixedTimeoutDetector, type DetectorFactory } from '@vigil/core';
import { VigilServer } from '@vigil/server';
import { formatTrace, type TracePeer } from './traces.js';

const self = import.meta.filename;

async function client(url: string, id: string): Promise<void> {
  const c = new VigilClient(url, { id, reconnect: false });
  await c.connect();
  process.stdout.write('connected\n');
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

function child(args: string[], children: ChildProcess[]): ChildProcess {
  const p = spawn(process.execPath, ['--import', 'tsx', self, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(p);
  return p;
}

async function record(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '240' },
      interval: { type: 'string', default: '250' },
      clients: { type: 'string', default: '3' },
      load: { type: 'string', default: '3' },
      name: { type: 'string', default: 'loopback-cpu-load' },
    },
  });
  const seconds = Number(values.seconds);
  const intervalMs = Number(values.interval);
  const perTransport = Number(values.clients);
  const loaders = Number(values.load);
  // Raw arrival times: no stall credit, so the trace shows what the load did.
  const arrivals = new Map<string, number[]>();
  let byStart = new Map<number, number[]>();
  const recording: DetectorFactory = (timing, start) => {
    const times: number[] = [];
    byStart.set(start, times);
    const inner = new FixedTimeoutDetector(timing, start);
    return {
      record: (now, heartbeat) => {
        if (heartbeat) times.push(now);
        inner.record(now);
      },
      verdict: (now) => inner.verdict(now),
      nextCheckAt: (now) => inner.nextCheckAt(now),
    };
  };
  const server = new VigilServer({
    tcp: { port: 0 },
    ws: { port: 0 },
    heartbeat: { intervalMs, timeoutMs: 20 * intervalMs, suspectAfterMs: 10 * intervalMs },
    detector: recording,
    stallGuard: false,
    localHealth: false,
  });
  server.connections$.subscribe((peer) => {
    // The detector was created at the handshake; name its arrivals by the peer.
    const times = [...byStart.values()].at(-1)!;
    arrivals.set(peer.id, times);
    byStart = new Map();
  });
  const ports = await server.listen();
  const children: ChildProcess[] = [];
  const cleanup = () => {
    for (const c of children) {
      c.kill('SIGCONT');
      c.kill('SIGKILL');
    }
  };
  process.on('exit', cleanup);
  try {
    for (let i = 0; i < perTransport; i++) {
      for (const [kind, url] of [
        ['tcp', `tcp://127.0.0.1:${ports.tcp}`],
        ['ws', `ws://127.0.0.1:${ports.ws}/`],
      ] as const) {
        const c = child(['--client', url, `${kind}-${i}`], children);
        await new Promise<void>((ok, fail) => {
          c.stdout!.once('data', () => ok());
          c.once('exit', () => fail(new Error(`client ${kind}-${i} exited`)));
        });
      }
    }
    // Load: busy loops, on for 20 s and off for 10 s, each phase-shifted, so the
    // trace holds both calm and loaded stretches.
    const load: ChildProcess[] = [];
    for (let i = 0; i < loaders; i++) {
      const p = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
      children.push(p);
      load.push(p);
    }
    const started = performance.now();
    const phase = setInterval(() => {
      const t = (performance.now() - started) / 1000;
      load.forEach((p, i) => p.kill((t + i * 7) % 30 < 20 ? 'SIGCONT' : 'SIGSTOP'));
    }, 500);
    while (performance.now() - started < seconds * 1000) {
      await new Promise((r) => setTimeout(r, 1000));
      const n = [...arrivals.values()].reduce((s, a) => s + a.length, 0);
      process.stderr.write(`\rrecording ${Math.round((performance.now() - started) / 1000)}/${seconds} s, ${n} heartbeats`);
    }
    clearInterval(phase);
    process.stderr.write('\n');
  } finally {
    cleanup();
    await server.close();
  }
  const peers: TracePeer[] = [...arrivals.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([id, times]) => ({ id, startMs: 0, gapsMs: times.slice(1).map((t, i) => t - times[i]!) }));
  const cpu = cpus();
  const trace = {
    name: values.name,
    description: `Recorded: real loopback sockets (${perTransport} TCP + ${perTransport} WebSocket clients, one process each) while ${loaders} busy-loop processes ran 20 s on / 10 s off on ${cpu.length} CPU(s).`,
    source: `recorded: packages/bench/src/detectors/record-trace.ts --seconds ${seconds} --interval ${intervalMs} on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, Linux ${release()}, ${cpu[0]?.model ?? 'unknown CPU'} × ${cpu.length}`,
    intervalMs,
    jittery: true,
    peers,
  };
  const out = resolve(import.meta.dirname, '../../traces', `${values.name}.json`);
  writeFileSync(out, formatTrace(trace));
  process.stdout.write(`wrote ${out}: ${peers.length} peers, ${peers.reduce((s, p) => s + p.gapsMs.length, 0)} gaps\n`);
}

const argv = process.argv.slice(2);
if (argv[0] === '--client') {
  await client(argv[1]!, argv[2]!);
} else {
  await record();
  process.exit(0);
}
