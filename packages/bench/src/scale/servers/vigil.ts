/**
 * Vigil under the scale benchmark: a `VigilServer` with its defaults (limits, stall
 * guard, local health probe included), one listener on the transport under test, and
 * the scenario's interval and timeout. Pongs received are its heartbeats; a peer that
 * ends is a detected frozen peer or a false death.
 */
import { VigilServer } from '@vigil/server';
import { Harness } from '../harness.js';

const harness = new Harness();
const transport = process.env['SCALE_TRANSPORT'] === 'ws' ? 'ws' : 'tcp';
const server = new VigilServer({
  [transport]: { port: 0 },
  heartbeat: { intervalMs: harness.timing.intervalMs, timeoutMs: harness.timing.timeoutMs },
});
harness.countFrom(() => server.engine.stats.pongsReceived);
server.connections$.subscribe(() => harness.accepted());
server.changes$.subscribe((c) => {
  if (c.to !== 'dead' && c.to !== 'closed') return;
  if (c.from === 'connecting') return;
  const remote = server.peers.get(c.peerId)?.remote;
  harness.died(harness.isFrozen(remote), `${c.to}:${c.cause ?? 'unknown'}`, Math.round(c.silenceMs));
});
const ports = await server.listen();
harness.listening(ports[transport]!);
