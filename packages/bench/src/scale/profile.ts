/**
 * The evidence behind the benchmark's verdicts, reproducible: one server of the scale
 * benchmark at two peer counts, a heap snapshot at each (the difference is what one
 * more peer costs, object by object), then a CPU profile over a window of heartbeats.
 * Writes the snapshots and the profile to results/profile-<server>-<time>/ and prints
 * both summaries.
 *
 *   tsx packages/bench/src/scale/profile.ts [--server vigil-tcp] [--peers 2000,4000] [--interval 1000] [--window 10000]
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LoadProcess, REPO, SERVER_KINDS, ServerProcess, killAll, type ServerKind } from './processes.js';
import { cpuByFunction, heapPerPeer } from './profile-summary.js';

const { values } = parseArgs({
  options: {
    server: { type: 'string', default: 'vigil-tcp' },
    peers: { type: 'string', default: '2000,4000' },
    interval: { type: 'string', default: '1000' },
    window: { type: 'string', default: '10000' },
    top: { type: 'string', default: '30' },
  },
});
const kind = values.server as ServerKind;
if (!SERVER_KINDS.includes(kind)) throw new Error(`--server must be one of ${SERVER_KINDS.join(', ')}`);
const [small, large] = values.peers.split(',').map(Number) as [number, number];
const intervalMs = Number(values.interval);
const top = Number(values.top);
const out = resolve(REPO, 'results', `profile-${kind}-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}`);
mkdirSync(out, { recursive: true });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const server = new ServerProcess(kind, { intervalMs, timeoutMs: 3 * intervalMs }, '127.0.1.');
try {
  const port = await server.port;
  const grow = async (clients: number, prefix: string): Promise<void> => {
    const load = new LoadProcess({ server: kind, port, clients, intervalMs, source: '127.0.0', idPrefix: prefix });
    await load.ready;
    // A few heartbeat rounds: every peer has pinged and been answered (RTT history, timers armed).
    await sleep(3 * intervalMs);
  };
  await grow(small, 'a');
  const a = resolve(out, `${kind}-${small}.heapsnapshot`);
  await server.request({ type: 'heap-snapshot', path: a }, 'written');
  await grow(large - small, 'b');
  const b = resolve(out, `${kind}-${large}.heapsnapshot`);
  await server.request({ type: 'heap-snapshot', path: b }, 'written');
  await sleep(2000);
  const cpu = resolve(out, `${kind}-${large}.cpuprofile`);
  const written = await server.request({ type: 'cpu-profile', ms: Number(values.window), path: cpu }, 'written');
  const rows = heapPerPeer(a, b, large - small);
  const total = rows.reduce((s, r) => s + r.bytesPerPeer, 0);
  process.stdout.write(`# ${kind}: heap per added peer, ${small} → ${large} peers (snapshot self sizes; "synthetic" and "native" are outside the JS heap)\n\n`);
  process.stdout.write(`total ${total.toFixed(0)} bytes per peer\n\n| bytes per peer | objects per peer | kind |\n|---:|---:|---|\n`);
  for (const r of rows.slice(0, top)) process.stdout.write(`| ${r.bytesPerPeer.toFixed(0)} | ${r.perPeer.toFixed(2)} | ${r.kind} |\n`);
  process.stdout.write(
    `\n# ${kind}: CPU over ${Number(values.window) / 1000} s at ${large} peers: ${(written.cpuUs / written.heartbeats).toFixed(1)} µs per heartbeat (${written.heartbeats} heartbeats), shares of the sampled busy time\n\n| self % | inclusive % | function |\n|---:|---:|---|\n`,
  );
  for (const r of cpuByFunction(cpu).slice(0, top)) process.stdout.write(`| ${r.self.toFixed(1)} | ${r.inclusive.toFixed(1)} | ${r.fn} |\n`);
  process.stdout.write(`\nwrote ${out}\n`);
} finally {
  server.kill();
  killAll();
}
process.exit(0);
