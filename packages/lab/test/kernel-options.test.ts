/**
 * The `kernel` option of VigilServer and VigilClient end to end over loopback: it
 * reaches both ends of TCP and WebSocket connections (read back with getsockopt),
 * bad values are refused at construction, and the kernel's verdict becomes the
 * peer's cause of death (`kernel-user-timeout` when a peer stops reading).
 */
import { nodeTransportFactory, VigilClient, type TransportFactory } from '@vigil/client';
import type { Transport } from '@vigil/core';
import { ConfigError } from '@vigil/protocol';
import { VigilServer, type Peer } from '@vigil/server';
import { TcpTransport, WsTransport, readKernelOptions, type KernelSocketOptions } from '@vigil/transport';
import { firstValueFrom, filter, timeout } from 'rxjs';

const teardown: (() => Promise<unknown> | void)[] = [];

afterEach(async () => {
  for (let step = teardown.pop(); step; step = teardown.pop()) await step();
});

const serverKernel: KernelSocketOptions = { keepalive: { idleMs: 4000, intervalMs: 2000, count: 5 }, userTimeoutMs: 12_000 };
const clientKernel: KernelSocketOptions = { keepalive: { idleMs: 3000, intervalMs: 1000, count: 2 }, userTimeoutMs: 5000, noDelay: true };

async function start(kind: 'tcp' | 'ws', heartbeat = {}): Promise<{ server: VigilServer; port: number }> {
  const server = new VigilServer({ [kind]: { port: 0 }, kernel: serverKernel, heartbeat });
  teardown.push(() => server.close());
  const ports = await server.listen();
  return { server, port: ports[kind]! };
}

/** A client whose transport we keep, to inspect its socket. */
async function dial(url: string): Promise<{ client: VigilClient; transport: Transport }> {
  let transport: Transport | null = null;
  const capture: TransportFactory = async (u, options) => {
    transport = await nodeTransportFactory(u, options);
    return transport;
  };
  const client = new VigilClient(url, { kernel: clientKernel, reconnect: false, transportFactory: capture });
  teardown.push(() => client.close());
  await client.connect();
  return { client, transport: transport! };
}

async function firstPeer(server: VigilServer): Promise<Peer> {
  return firstValueFrom(server.connections$.pipe(timeout(5000)));
}

describe('kernel options on Vigil connections', () => {
  it('are applied on both ends of a TCP connection', async () => {
    const { server, port } = await start('tcp');
    const peer = firstPeer(server);
    const { transport } = await dial(`tcp://127.0.0.1:${port}`);
    const serverTransport = (await peer).connection.transport as TcpTransport;
    expect(readKernelOptions(serverTransport.socket)).toStrictEqual({
      keepalive: true,
      keepaliveIdleMs: 4000,
      keepaliveIntervalMs: 2000,
      keepaliveCount: 5,
      userTimeoutMs: 12_000,
      noDelay: true,
    });
    expect(transport).toBeInstanceOf(TcpTransport);
    expect(readKernelOptions((transport as TcpTransport).socket)).toStrictEqual({
      keepalive: true,
      keepaliveIdleMs: 3000,
      keepaliveIntervalMs: 1000,
      keepaliveCount: 2,
      userTimeoutMs: 5000,
      noDelay: true,
    });
  });

  it('are applied to the socket under a WebSocket on both ends', async () => {
    const { server, port } = await start('ws');
    const peer = firstPeer(server);
    const { transport } = await dial(`ws://127.0.0.1:${port}/`);
    const serverTransport = (await peer).connection.transport as WsTransport;
    expect(serverTransport.kernel?.state).toMatchObject({ keepaliveIdleMs: 4000, keepaliveIntervalMs: 2000, keepaliveCount: 5, userTimeoutMs: 12_000 });
    expect((transport as WsTransport).kernel).toStrictEqual({
      state: { keepalive: true, keepaliveIdleMs: 3000, keepaliveIntervalMs: 1000, keepaliveCount: 2, userTimeoutMs: 5000, noDelay: true },
      userTimeoutSet: true,
      warnings: [],
    });
  });

  it('are refused at construction when sub-second', () => {
    expect(() => new VigilServer({ tcp: { port: 0 }, kernel: { keepalive: { idleMs: 500 } } })).toThrow(ConfigError);
    expect(() => new VigilClient('tcp://127.0.0.1:1', { kernel: { userTimeoutMs: 200 } })).toThrow(
      expect.objectContaining({ field: 'kernel.userTimeoutMs' }) as Error,
    );
  });

  it("turn the kernel's verdict into the cause of death: a peer that stops reading dies of kernel-user-timeout", async () => {
    // A long heartbeat so that only the kernel can be first.
    const server = new VigilServer({ tcp: { port: 0 }, kernel: { userTimeoutMs: 1000 }, heartbeat: { intervalMs: 10_000, timeoutMs: 30_000 } });
    teardown.push(() => server.close());
    const { tcp: port } = await server.listen();
    const peer = firstPeer(server);
    const { transport } = await dial(`tcp://127.0.0.1:${port!}`);
    // The client's process stops reading, as a frozen one would; its kernel still acknowledges.
    (transport as TcpTransport).socket.pause();
    const p = await peer;
    const dead = firstValueFrom(p.status$.pipe(filter((s) => s.state === 'dead'), timeout(10_000)));
    const chunk = new Uint8Array(256 * 1024);
    for (let i = 0; i < 40; i++) p.send(chunk);
    expect(await dead).toMatchObject({ state: 'dead', cause: 'kernel-user-timeout' });
  });
});
