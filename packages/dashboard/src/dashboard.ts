/**
 * The dashboard's HTTP side: the page at `/`, its static assets at `/assets/*` and
 * the live stream at `/api/stream`, as one request handler that plugs into
 * `serveHttpApi`'s `fallback` or any `http.Server`. `serveDashboard` runs it next to
 * the HTTP API (`/api/peers`, `/api/events`, `/metrics`) on its own port.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { authorized, serveHttpApi, type HttpApiHandler, type VigilServer } from '@vigil/server';
import type { DashboardClusterSource } from './cluster-source.js';
import { Assets } from './internal/assets.js';
import { PROC_NET_TCP_PATHS } from './internal/kernel-sampler.js';
import { LiveFeed } from './internal/live-feed.js';

export interface DashboardOptions {
  /**
   * When set, the page and the stream need it, as `Authorization: Bearer <token>` or
   * `?token=<token>` (a browser opening the page has only the URL). Static assets stay
   * public: they are the same files for everyone and carry no data. `undefined`: no guard.
   */
  readonly token?: string | undefined;
  /** Path prefix to mount under, e.g. `/vigil`. Default `''` (the root). */
  readonly basePath?: string;
  /** Ms between batched stream updates. Default 250 (4 per second). */
  readonly updateIntervalMs?: number;
  /** Ms between reads of the kernel's socket table (Linux); 0 turns the kernel view off. Default 1000. */
  readonly kernelIntervalMs?: number;
  /** Files to read the socket table from. Default `/proc/net/tcp` and `/proc/net/tcp6`. */
  readonly procNetTcpPaths?: readonly string[];
  /** Recent timeline events a newly connected page receives. Default 200. */
  readonly timelineLength?: number;
  /** Unsent bytes after which a slow page is skipped until it drains, then resent the full state. Default 8 MiB. */
  readonly maxBufferedBytes?: number;
  /**
   * The cluster this server is a node of (`@vigil/cluster`'s `Cluster` fits): the table
   * then lists every node's peers with a Node column, and the page shows the node list
   * with lease ages. Default: none (this server's peers only).
   */
  readonly cluster?: DashboardClusterSource | undefined;
}

/** The request handler plus its lifecycle. */
export type DashboardHandler = HttpApiHandler & {
  /** Pages currently streaming. */
  streams(): number;
  /** Ends every stream and stops the feed; the handler then answers the stream with 503. */
  close(): void;
};

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
} as const;

function tokenMatches(given: string | null, token: string): boolean {
  if (given === null) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function normalizeBase(base: string | undefined): string {
  if (base === undefined || base === '' || base === '/') return '';
  return `/${base.replace(/^\/+|\/+$/g, '')}`;
}

/**
 * Creates the dashboard for one server. Answers `GET {basePath}/`, `{basePath}/assets/*`
 * and `{basePath}/api/stream`; resolves false for anything else so the caller can route it.
 */
export function createDashboardHandler(server: VigilServer<unknown, unknown>, options: DashboardOptions = {}): DashboardHandler {
  const base = normalizeBase(options.basePath);
  const token = options.token;
  const assets = new Assets();
  const feed = new LiveFeed(server, {
    updateIntervalMs: options.updateIntervalMs ?? 250,
    kernelIntervalMs: options.kernelIntervalMs ?? 1000,
    procNetTcpPaths: options.procNetTcpPaths ?? PROC_NET_TCP_PATHS,
    timelineLength: options.timelineLength ?? 200,
    maxBufferedBytes: options.maxBufferedBytes ?? 8 * 1024 * 1024,
    cluster: options.cluster ?? null,
  });

  const isAuthorized = (req: IncomingMessage, url: URL): boolean =>
    token === undefined || authorized(req, token) || tokenMatches(url.searchParams.get('token'), token);

  const deny = (res: ServerResponse): true => {
    res.writeHead(401, { 'www-authenticate': 'Bearer', 'content-type': 'text/plain', 'cache-control': 'no-store' }).end('unauthorized\n');
    return true;
  };

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (base !== '' && url.pathname === base) {
      res.writeHead(308, { location: `${base}/${url.search}` }).end();
      return true;
    }
    if (base !== '' && !url.pathname.startsWith(`${base}/`)) return false;
    const path = url.pathname.slice(base.length);
    const isPage = path === '/' || path === '/index.html';
    const asset = path.startsWith('/assets/') ? path.slice('/assets/'.length) : null;
    const isStream = path === '/api/stream';
    if (!isPage && !isStream && (asset === null || !assets.has(asset))) return false;
    if (req.method !== 'GET' && (req.method !== 'HEAD' || isStream)) {
      res.writeHead(405, { allow: isStream ? 'GET' : 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return true;
    }
    if (asset !== null) {
      const file = await assets.get(asset);
      if (file === null) return false;
      res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
      res.end(req.method === 'HEAD' ? undefined : file.body);
      return true;
    }
    if (!isAuthorized(req, url)) return deny(res);
    if (isStream) {
      feed.add(res, /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')));
      return true;
    }
    const page = await assets.get('index.html');
    if (page === null) return false;
    res.writeHead(200, PAGE_HEADERS).end(req.method === 'HEAD' ? undefined : page.body);
    return true;
  };
  return Object.assign(handler, { streams: () => feed.size, close: () => feed.close() });
}

export interface ServeDashboardOptions extends DashboardOptions {
  /** Port; 0 picks a free one. */
  readonly port: number;
  /** Interface to bind. Default '127.0.0.1' (loopback only). */
  readonly host?: string;
}

export interface DashboardServer {
  readonly port: number;
  /** The page's address, with `?token=` when a token is set. */
  readonly url: string;
  readonly server: Server;
  readonly dashboard: DashboardHandler;
  /** Ends the streams and closes the HTTP server. */
  close(): Promise<void>;
}

/** Serves the dashboard with the HTTP API (`/api/peers`, `/api/events`, `/metrics`) on its own port. */
export async function serveDashboard(vigil: VigilServer<unknown, unknown>, options: ServeDashboardOptions): Promise<DashboardServer> {
  const dashboard = createDashboardHandler(vigil, options);
  const host = options.host ?? '127.0.0.1';
  const http = await serveHttpApi(vigil, {
    port: options.port,
    host,
    fallback: dashboard,
    ...(options.token !== undefined ? { token: options.token } : {}),
  }).catch((error: unknown) => {
    dashboard.close();
    throw error;
  });
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const query = options.token !== undefined ? `?token=${encodeURIComponent(options.token)}` : '';
  return {
    port: http.port,
    url: `http://${hostPart}:${http.port}${normalizeBase(options.basePath)}/${query}`,
    server: http.server,
    dashboard,
    close: async () => {
      dashboard.close();
      await http.close();
    },
  };
}
