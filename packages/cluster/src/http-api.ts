/**
 * The cluster's HTTP endpoints, as a handler to chain after the server's own
 * (`serveHttpApi(server, { fallback: createClusterHttpApi(cluster) })`):
 * `GET /api/cluster/peers` (every node's peers, from Redis), `GET /api/cluster/nodes`
 * (nodes and lease ages) and `GET /api/cluster/view` (this node's replica, no Redis).
 */
import { getRoutes, sendJson, type HttpApiHandler, type HttpApiOptions } from '@vigil/server';
import type { Cluster } from './cluster.js';

const PATHS: ReadonlySet<string> = new Set(['/api/cluster/peers', '/api/cluster/nodes', '/api/cluster/view']);

/**
 * The cluster endpoints as a `serveHttpApi` fallback: `GET /api/cluster/peers` and
 * `/api/cluster/nodes` read Redis (503 while it is unreachable), `/api/cluster/view`
 * answers from this node's replica. Resolves false for any other path.
 * @param options.token bearer token required on these routes, as on the server's own.
 */
export function createClusterHttpApi(cluster: Cluster<unknown>, options: HttpApiOptions = {}): HttpApiHandler {
  return getRoutes(PATHS, options.token, async (path, res) => {
    let body: unknown;
    try {
      body = path === '/api/cluster/peers' ? await cluster.peers() : path === '/api/cluster/nodes' ? await cluster.nodes() : cluster.view();
    } catch (error) {
      // Redis unreachable: the replica (`/api/cluster/view`) still answers.
      res.writeHead(503, { 'content-type': 'text/plain' }).end(`cluster store unavailable: ${error instanceof Error ? error.message : String(error)}\n`);
      return;
    }
    sendJson(res, body);
  });
}
