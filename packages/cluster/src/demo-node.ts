/**
 * One node of the clustered demo (`pnpm demo:cluster` starts three): a `VigilServer`
 * on a free TCP port joined to the cluster, with the HTTP API, the cluster endpoints
 * and the dashboard (every node's peers, the node list) on a free HTTP port.
 * Usage: `demo-node.ts <redisUrl> <node> [tcpPort]`.
 * Writes JSON lines on stdout (`ready`, `view` every second, `cluster` per event) and
 * takes `{"cmd":"send","peerId","message"}` / `{"cmd":"broadcast","message"}` on stdin;
 * exits when stdin closes.
 */
import { createInterface } from 'node:readline';
import { createDashboardHandler } from '@vigil/dashboard';
import { VigilServer, serveHttpApi } from '@vigil/server';
import { attachCluster } from './cluster.js';
import { createClusterHttpApi } from './http-api.js';

const [redisUrl, node, port] = process.argv.slice(2);
if (redisUrl === undefined || node === undefined) {
  process.stderr.write('usage: demo-node.ts <redisUrl> <node> [tcpPort]\n');
  process.exit(2);
}
const out = (line: unknown): boolean => process.stdout.write(`${JSON.stringify(line)}\n`);

const server = new VigilServer<unknown, unknown>({ tcp: { port: Number(port ?? 0) }, heartbeat: { intervalMs: 500, timeoutMs: 2000 } });
const { tcp } = await server.listen();
const cluster = await attachCluster(server, { node, redisUrl, leaseTtlMs: 2000, renewIntervalMs: 400, rttFlushMs: 1000 });
cluster.events$.subscribe((e) => out({ event: 'cluster', e }));
const clusterApi = createClusterHttpApi(cluster);
const dashboard = createDashboardHandler(server, { cluster });
const http = await serveHttpApi(server, { port: 0, fallback: async (req, res) => (await clusterApi(req, res)) || dashboard(req, res) });
out({ event: 'ready', node, tcp, http: http.port });
const views = setInterval(() => {
  cluster.nodes().then(
    (nodes) => out({ event: 'view', node, status: cluster.status, view: cluster.view(), nodes }),
    () => out({ event: 'view', node, status: cluster.status, view: cluster.view(), nodes: [] }),
  );
}, 1000);

createInterface({ input: process.stdin })
  .on('line', (line) => {
    const c = JSON.parse(line) as { cmd: string; peerId?: string; message?: unknown };
    const done = c.cmd === 'send' ? cluster.send(c.peerId!, c.message) : cluster.broadcast(c.message);
    done.then(
      (result) => out({ event: 'sent', cmd: c.cmd, peerId: c.peerId, result }),
      (error: unknown) => out({ event: 'sent', cmd: c.cmd, peerId: c.peerId, error: String(error) }),
    );
  })
  .on('close', () => {
    clearInterval(views);
    dashboard.close();
    void Promise.all([cluster.close().then(() => server.close()), http.close()])
      .finally(() => process.exit(0));
  });
