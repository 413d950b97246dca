/**
 * The peer, run by the lab inside namespace B: it opens one connection per detector to
 * the observer (with the same kernel options on its own socket) and a Vigil client per
 * Vigil detector, reads whatever arrives, and reports what its side saw when the
 * failure also cut it off. The lab kills, freezes or isolates this process.
 */
import { connect, type Socket } from 'node:net';
import { VigilClient } from '@vigil/client';
import { TcpTransport, readKernelOptions } from '@vigil/transport';
import { childMain, emit, monoMs } from './ipc.js';
import type { KernelDetectorSpec, VigilDetectorSpec } from '../spec.js';

const config = childMain(() => {});

function dialKernel(spec: KernelDetectorSpec, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: config.observerAddr, port, noDelay: true });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      const transport = new TcpTransport(socket, spec.kernel ? { kernel: spec.kernel } : {});
      if (spec.nodeKeepAliveMs !== undefined) socket.setKeepAlive(true, spec.nodeKeepAliveMs);
      transport.frames.subscribe({ error: () => {} });
      emit({ ev: 'connected', detector: spec.id, readback: readKernelOptions(socket) });
      void transport.closed.then((end) => {
        const code = (end.error as (Error & { code?: string }) | undefined)?.code ?? null;
        emit({ ev: 'ended', detector: spec.id, at: monoMs(), cause: end.cause, error: code });
      });
      resolve();
    });
  });
}

async function dialVigil(spec: VigilDetectorSpec, port: number): Promise<void> {
  const client = new VigilClient(`tcp://${config.observerAddr}:${port}`, { id: spec.id, reconnect: false, intervalMs: config.timings.vigil.intervalMs });
  client.changes$.subscribe((c) => {
    if (c.to === 'dead' || c.to === 'closed') emit({ ev: 'ended', detector: spec.id, at: monoMs(), cause: c.cause ?? 'transport-error', error: null });
  });
  await client.connect();
  emit({ ev: 'connected', detector: spec.id, readback: null });
}

await Promise.all(config.detectors.map((d, i) => (d.kind === 'kernel' ? dialKernel(d, config.basePort + i) : dialVigil(d, config.basePort + i))));
