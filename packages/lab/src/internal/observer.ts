/**
 * The observer, run by the lab inside namespace A: one listener per detector (a bare
 * TCP server with kernel options for kernel detectors, a Vigil server for Vigil ones).
 * It reports each connection with its kernel options read back, and the moment and
 * cause of each death; on command it writes to the peer (a trickle or a flood).
 */
import { createServer, type Socket } from 'node:net';
import { VigilServer } from '@vigil/server';
import { TcpTransport, readKernelOptions } from '@vigil/transport';
import { adaptiveFactory } from './adaptive.js';
import { childMain, emit, monoMs, type ChildCommand } from './ipc.js';
import type { KernelDetectorSpec, VigilDetectorSpec } from '../spec.js';

/** Anything that can be written to and reports its send backlog. */
interface Sink {
  readonly kernel: boolean;
  send(payload: Uint8Array): boolean;
  readonly bufferedBytes: number;
  readonly ended: boolean;
}

const sinks: Sink[] = [];
const FLOOD_CHUNK = new Uint8Array(64 * 1024);
const FLOOD_BACKLOG = 4 * 1024 * 1024;
const TRICKLE = new Uint8Array(64);
let writer: NodeJS.Timeout | null = null;

const config = childMain(onCommand);
const { timings } = config;

function onCommand(c: ChildCommand): void {
  if (c.cmd === 'exit') process.exit(0);
  if (writer) clearInterval(writer);
  // Bounded: the orchestrator kills us after the cap; the counter stops a forgotten writer too.
  let left = Math.ceil((timings.capMs + 60_000) / 20);
  if (c.style === 'trickle') {
    const trickle = (): void => {
      if (left-- <= 0) clearInterval(writer!);
      for (const s of sinks) if (s.kernel && !s.ended) s.send(TRICKLE);
    };
    // The first write at once: "we send afterwards" means now, not one period later.
    trickle();
    writer = setInterval(trickle, timings.trickleMs);
  } else {
    writer = setInterval(() => {
      if (left-- <= 0) clearInterval(writer!);
      for (const s of sinks) {
        for (let i = 0; i < 4 && !s.ended && s.bufferedBytes < FLOOD_BACKLOG; i++) s.send(FLOOD_CHUNK);
      }
    }, 20);
  }
}

function listenKernel(spec: KernelDetectorSpec, port: number): Promise<void> {
  let taken = false;
  const server = createServer((socket: Socket) => {
    if (taken) {
      socket.destroy();
      return;
    }
    taken = true;
    const transport = new TcpTransport(socket, spec.kernel ? { kernel: spec.kernel } : {});
    // After TcpTransport, as an application would: Node's own keepalive knob.
    if (spec.nodeKeepAliveMs !== undefined) socket.setKeepAlive(true, spec.nodeKeepAliveMs);
    transport.frames.subscribe({ error: () => {} });
    sinks.push({
      kernel: true,
      send: (p) => transport.send(p),
      get bufferedBytes() {
        return transport.bufferedBytes;
      },
      get ended() {
        return socket.destroyed;
      },
    });
    emit({ ev: 'connected', detector: spec.id, readback: readKernelOptions(socket) });
    void transport.closed.then((end) => {
      const code = (end.error as (Error & { code?: string }) | undefined)?.code ?? null;
      emit({ ev: 'ended', detector: spec.id, at: monoMs(), cause: end.cause, error: code });
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, config.observerAddr, () => resolve());
  });
}

async function listenVigil(spec: VigilDetectorSpec, port: number): Promise<void> {
  const adaptive = spec.detector === 'adaptive' ? adaptiveFactory() : null;
  if (spec.detector === 'adaptive' && adaptive === null) throw new Error('vigil-adaptive: @vigil/core exports no adaptive detector yet');
  const v = timings.vigil;
  const server = new VigilServer({
    host: config.observerAddr,
    tcp: { port },
    heartbeat: { intervalMs: v.intervalMs, timeoutMs: v.timeoutMs, jitter: v.jitter, tickMs: v.tickMs },
    ...(adaptive ? { detector: adaptive } : {}),
  });
  server.connections$.subscribe((peer) => {
    const transport = peer.connection.transport;
    sinks.push({
      kernel: false,
      send: (p) => peer.send(p),
      get bufferedBytes() {
        return transport.bufferedBytes;
      },
      get ended() {
        return peer.connection.ended;
      },
    });
    emit({ ev: 'connected', detector: spec.id, readback: null });
    let error: string | null = null;
    void transport.closed.then((end) => {
      error = (end.error as (Error & { code?: string }) | undefined)?.code ?? null;
    });
    peer.status$.subscribe((s) => {
      const at = monoMs();
      if (s.state === 'suspect') emit({ ev: 'suspect', detector: spec.id, at });
      if (s.state === 'dead' || s.state === 'closed') {
        // The transport's error (ECONNRESET) settles in the same turn as a kernel verdict; a heartbeat verdict has none.
        setImmediate(() => emit({ ev: 'ended', detector: spec.id, at, cause: s.cause ?? 'transport-error', error }));
      }
    });
  });
  await server.listen();
}

await Promise.all(
  config.detectors.map((d, i) => (d.kind === 'kernel' ? listenKernel(d, config.basePort + i) : listenVigil(d, config.basePort + i))),
);
emit({ ev: 'listening' });
