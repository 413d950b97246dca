/**
 * The cluster endpoints behind the server's own HTTP API: every node's peers and the
 * node list from Redis, this node's replica, the bearer token, and pass-through of
 * paths that are not theirs.
 */
import { VigilServer, serveHttpApi } from '@vigil/server';
import { attachCluster, createClusterHttpApi, type ClusterNode, type ClusterPeer } from '../src/index.js';
import { Teardown, startClient, startRedis, until } from './support/harness.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

test('GET /api/cluster/{peers,nodes,view}, guarded by the token like the rest of the API', async () => {
  const redis = await startRedis(teardown);
  const server = new VigilServer<unknown, unknown>({ tcp: { port: 0 } });
  teardown.add(() => server.close());
  const { tcp } = await server.listen();
  const cluster = await attachCluster(server, { node: 'web', redisUrl: redis.url });
  teardown.add(() => cluster.close());
  const http = await serveHttpApi(server, { port: 0, token: 'secret', fallback: createClusterHttpApi(cluster, { token: 'secret' }) });
  teardown.add(() => http.close());
  await startClient(`tcp://127.0.0.1:${tcp!}`, 'alice', teardown);
  await until(() => cluster.locate('alice') !== undefined, 'alice in the replica');

  const get = (path: string, init: RequestInit = { headers: { authorization: 'Bearer secret' } }) => fetch(`http://127.0.0.1:${http.port}${path}`, init);
  const peers = (await (await get('/api/cluster/peers')).json()) as ClusterPeer[];
  expect(peers.map((p) => [p.id, p.node, p.state])).toEqual([['alice', 'web', 'alive']]);
  const view = (await (await get('/api/cluster/view')).json()) as ClusterPeer[];
  expect(view).toEqual(peers);
  const nodes = (await (await get('/api/cluster/nodes')).json()) as ClusterNode[];
  expect(nodes.map((n) => [n.node, n.state, n.peers])).toEqual([['web', 'live', 1]]);

  expect((await get('/api/cluster/peers', {})).status).toBe(401);
  expect((await get('/api/cluster/peers', { method: 'POST', headers: { authorization: 'Bearer secret' } })).status).toBe(405);
  expect((await get('/api/cluster/other')).status).toBe(404);
  expect((await get('/api/peers')).status).toBe(200);
});
