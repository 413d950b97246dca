/**
 * Who closes a TCP connection first decides who holds TIME_WAIT (RFC 9293 §3.6).
 * A server that closes its connections (shutdown) holds many TIME_WAIT sockets on its
 * port and must still be able to listen there again at once (SO_REUSEADDR); a client
 * that closes in order half-closes first, so the server keeps none.
 */
import { VigilClient } from '@vigil/client';
import { VigilServer } from '@vigil/server';
import { Teardown, firstMatch, kernelSockets, portOf, until, type KernelSocket } from './support/loopback.js';

const HEARTBEAT = { intervalMs: 100, timeoutMs: 400 } as const;

const teardown = new Teardown();
afterEach(() => teardown.run());

function between(localPort: number, remotePort: number): KernelSocket[] {
  return kernelSockets().filter((s) => s.localPort === localPort && s.remotePort === remotePort);
}

async function startServer(port = 0): Promise<{ server: VigilServer; port: number }> {
  const server = new VigilServer({ tcp: { port }, heartbeat: HEARTBEAT });
  teardown.add(() => server.close());
  return { server, port: (await server.listen()).tcp! };
}

test('connections the server closed sit in TIME_WAIT on its port, and a new server listens there at once', async () => {
  const { server, port } = await startServer();
  const clients = Array.from({ length: 20 }, (_, i) => {
    const client = new VigilClient(`tcp://127.0.0.1:${port}`, { id: `tw-${i}`, reconnect: false });
    teardown.add(() => client.close());
    return client;
  });
  await Promise.all(clients.map((c) => c.connect()));
  const clientPorts = [...server.peers.values()].map((p) => portOf(p.remote));
  expect(clientPorts).toHaveLength(20);

  // The server closes first: `close` 1001, then its FIN before the client's.
  await server.close();
  await until(() => clients.every((c) => c.status.state === 'closed'), 'every client closed');
  expect(new Set(clients.map((c) => c.status.cause))).toEqual(new Set(['peer-close']));

  // The clients' sides go CLOSE_WAIT → LAST_ACK → gone as the server ACKs their FINs.
  await until(() => clientPorts.every((cp) => between(cp, port).length === 0), 'the client sides gone from the socket table', 2000);
  const serverSide = clientPorts.flatMap((cp) => between(port, cp));
  expect(serverSide.map((s) => s.state)).toEqual(Array(20).fill('TIME_WAIT'));

  // Without SO_REUSEADDR this bind would fail with EADDRINUSE for the next 60 s.
  const again = await startServer(port);
  expect(again.port).toBe(port);
  const client = new VigilClient(`tcp://127.0.0.1:${port}`, { id: 'after-restart', reconnect: false });
  teardown.add(() => client.close());
  await client.connect();
  expect(again.server.peers.has('after-restart')).toBe(true);
});

test('an orderly client.close() half-closes first: the client holds TIME_WAIT, the server none', async () => {
  const { server, port } = await startServer();
  const client = new VigilClient(`tcp://127.0.0.1:${port}`, { id: 'leaver', reconnect: false });
  teardown.add(() => client.close());
  await client.connect();
  const clientPort = portOf(server.peers.get('leaver')!.remote);
  const closedAtServer = firstMatch(server.changes$, (c) => c.peerId === 'leaver' && c.to === 'closed', 'the close at the server');

  await client.close();
  expect(await closedAtServer).toMatchObject({ from: 'alive', to: 'closed', cause: 'peer-close' });
  expect(client.status).toMatchObject({ state: 'closed', cause: 'local-close' });
  await until(() => server.connectionCount === 0, 'the server connection ended');
  // The server's side goes CLOSE_WAIT → LAST_ACK → gone; the client's FIN_WAIT → TIME_WAIT.
  await until(() => between(port, clientPort).length === 0, 'the server side gone from the socket table', 2000);
  expect(between(clientPort, port).map((s) => s.state)).toEqual(['TIME_WAIT']);
});
