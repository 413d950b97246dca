/**
 * `vigil serve --workers K`: the same server in K worker processes behind the same
 * ports (node:cluster re-runs this command in each worker). The primary prints what a
 * single `vigil serve` prints — one `listening` line, then a `state` line per change of
 * any worker's peers — and serves one HTTP API and dashboard for all of them, with
 * `/api/workers` for each worker's own load.
 */
import cluster from 'node:cluster';
import { resolveHeartbeatConfig } from '@vigil/core';
import { createDashboardHandler } from '@vigil/dashboard';
import { ClusterPrimary, VigilServer, runClusterWorker, serveClusterHttpApi } from '@vigil/server';
import { ExitCode } from '../internal/args.js';
import { cliLogger, createCliLogger } from '../internal/logger.js';
import { shutdownRequest, within, writeJsonLine } from '../internal/process-io.js';
import { describeListenError, serverOptions, type ListeningEvent, type ServeOptions, type StateEvent } from './serve.js';

/** Most time allowed for every worker's orderly close before leaving anyway, ms. */
const SHUTDOWN_DEADLINE_MS = 8000;

/** Runs the primary (or, in a worker process, one worker) until a shutdown signal; resolves with the exit code. */
export async function runServeWorkers(options: ServeOptions, workers: number): Promise<ExitCode> {
  const logger = createCliLogger(options.logLevel, 'serve');
  if (cluster.isWorker) {
    const server = new VigilServer(serverOptions(options, logger.child({ worker: process.env['VIGIL_WORKER_INDEX'] })));
    const { closed } = await runClusterWorker(server);
    await closed;
    return ExitCode.Ok;
  }
  const cli = cliLogger(logger);
  const shutdown = shutdownRequest();
  let primary: ClusterPrimary;
  try {
    primary = await ClusterPrimary.start({
      workers,
      config: resolveHeartbeatConfig(options.heartbeat),
      onWarning: (message) => cli.warn(message),
    });
  } catch (error) {
    process.stderr.write(`vigil serve: ${error instanceof Error ? error.message : String(error)}\n`);
    return ExitCode.Failure;
  }
  let early: StateEvent[] | null = [];
  primary.changes$.subscribe((c) => {
    const event: StateEvent = { event: 'state', peer: c.peerId, transport: c.transport, from: c.from, to: c.to, cause: c.cause, silenceMs: Math.round(c.silenceMs) };
    if (early) early.push(event);
    else writeJsonLine(event);
  });
  let http: Awaited<ReturnType<typeof serveClusterHttpApi>> | null = null;
  try {
    if (options.http !== null) {
      const auth = options.token === undefined ? {} : { token: options.token };
      http = await serveClusterHttpApi(primary, { port: options.http, host: options.host, ...auth, fallback: createDashboardHandler(primary.view, auth) });
    }
  } catch (error) {
    process.stderr.write(`vigil serve: ${describeListenError(error)}\n`);
    await within(primary.close(), SHUTDOWN_DEADLINE_MS);
    return ExitCode.Failure;
  }
  const bound = primary.addresses;
  const listening: ListeningEvent = {
    event: 'listening',
    ...(bound.tcp !== undefined ? { tcp: bound.tcp } : {}),
    ...(bound.ws !== undefined ? { ws: bound.ws } : {}),
    ...(http !== null ? { http: http.port } : {}),
  };
  writeJsonLine(listening);
  for (const event of early) writeJsonLine(event);
  early = null;
  cli.info({ workers }, 'workers listening');

  const reason = await shutdown.requested;
  cli.info({ reason }, 'shutting down');
  const closed = await within(Promise.all([primary.close(), http?.close()]), SHUTDOWN_DEADLINE_MS);
  if (closed === 'timeout') cli.warn({ deadlineMs: SHUTDOWN_DEADLINE_MS }, 'workers did not close in time; leaving anyway');
  return ExitCode.Ok;
}
