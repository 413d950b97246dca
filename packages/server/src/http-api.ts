/**
 * The HTTP side of a server: `GET /api/peers` (liveness of every peer, ended ones for
 * 60 s), `GET /api/events` (recent state changes), `GET /api/health` (this process's
 * own health: event-loop lag, stalls) and `GET /metrics` (Prometheus).
 * Optional bearer-token guard; a wrong or missing token gets 401 and no data.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { createMetrics } from './metrics.js';
import type { VigilServer } from './vigil-server.js';

export interface HttpApiOptions {
  /** When set, every request needs `Authorization: Bearer <token>`. */
  readonly token?: string;
}

/** A request handler; resolves true if it answered the request, false to let the caller route it. */
export type HttpApiHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

export function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  const header = req.headers.authorization ?? '';
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * A handler for the GET-only `paths` behind the optional bearer token (401 without it, 405
 * for another method) that leaves the answer to `answer`; resolves false for other paths.
 */
export function getRoutes(paths: ReadonlySet<string>, token: string | undefined, answer: (path: string, res: ServerResponse) => Promise<void> | void): HttpApiHandler {
  return async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (!paths.has(path)) return false;
    if (!authorized(req, token)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer', 'content-type': 'text/plain' }).end('unauthorized\n');
      return true;
    }
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET', 'content-type': 'text/plain' }).end('method not allowed\n');
      return true;
    }
    await answer(path, res);
    return true;
  };
}

/** Answers 200 with `body` as JSON, not to be cached. */
export function sendJson(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

const API_PATHS: ReadonlySet<string> = new Set(['/api/peers', '/api/events', '/api/health', '/metrics']);

export function createHttpApi(server: VigilServer<unknown, unknown>, options: HttpApiOptions = {}, registry: Registry = createMetrics(server)): HttpApiHandler {
  return getRoutes(API_PATHS, options.token, async (path, res) => {
    if (path === '/metrics') res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
    else sendJson(res, path === '/api/peers' ? server.snapshot() : path === '/api/health' ? server.health() : server.recentEvents());
  });
}

export interface HttpApiServer {
  readonly port: number;
  readonly server: Server;
  close(): Promise<void>;
}

/** Serves the HTTP API on its own port (default host 127.0.0.1). */
export function serveHttpApi(
  vigil: VigilServer<unknown, unknown>,
  options: HttpApiOptions & { port: number; host?: string; fallback?: HttpApiHandler },
): Promise<HttpApiServer> {
  return serveHandlers([createHttpApi(vigil, options), options.fallback], options);
}

/** An HTTP server on `port` that tries each handler in turn, then answers 404. */
export async function serveHandlers(handlers: readonly (HttpApiHandler | undefined)[], options: { port: number; host?: string }): Promise<HttpApiServer> {
  const server = createServer((req, res) => {
    void (async () => {
      for (const handler of handlers) if (handler && (await handler(req, res))) return;
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    })().catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`internal error: ${String(error)}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
