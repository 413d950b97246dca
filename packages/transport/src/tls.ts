/**
 * TLS for both transports: `tls://` carries the length-prefixed frames over a TLS socket
 * (a `TcpTransport` over `tls.TLSSocket`), `wss://` is WebSocket over HTTPS. Listeners
 * bound the TLS handshake by the Vigil handshake deadline; clients verify the server
 * against the system CAs or the `ca` they are given.
 */
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect as connectTls, createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';

/** Certificate material for a server (PEM strings or buffers), as `tls.createSecureContext` takes it. */
export interface TlsServerOptions {
  /** Certificate chain, PEM. */
  readonly cert: string | Buffer | readonly (string | Buffer)[];
  /** Private key, PEM. */
  readonly key: string | Buffer | readonly (string | Buffer)[];
  /** Passphrase of `key`, if encrypted. */
  readonly passphrase?: string;
  /** CAs to verify client certificates against (with `requestCert`). */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** Ask clients for a certificate. Default false. */
  readonly requestCert?: boolean;
  /** With `requestCert`, refuse clients whose certificate does not verify. Default true. */
  readonly rejectUnauthorized?: boolean;
  /** Lowest TLS version accepted. Default Node's ('TLSv1.2'). */
  readonly minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** How a client verifies the server (and, optionally, presents its own certificate). */
export interface TlsClientOptions {
  /** CAs to trust instead of the system store, PEM (e.g. a self-signed server certificate). */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** Client certificate and key, PEM, for servers that request one. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** Verify the server's certificate. Default true; turning it off defeats TLS's purpose. */
  readonly rejectUnauthorized?: boolean;
  /** Name to verify the certificate against (SNI). Default: the URL's host name. */
  readonly servername?: string;
}

type Pem = string | Buffer | (string | Buffer)[];

function secureContext(options: TlsServerOptions): { cert: Pem; key: Pem; passphrase?: string; ca?: Pem; requestCert?: boolean; rejectUnauthorized?: boolean; minVersion?: 'TLSv1.2' | 'TLSv1.3' } {
  const pem = (v: string | Buffer | readonly (string | Buffer)[]): Pem => (Array.isArray(v) ? [...(v as readonly (string | Buffer)[])] : (v as string | Buffer));
  return {
    cert: pem(options.cert),
    key: pem(options.key),
    ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
    ...(options.ca === undefined ? {} : { ca: pem(options.ca) }),
    ...(options.requestCert === undefined ? {} : { requestCert: options.requestCert }),
    ...(options.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: options.rejectUnauthorized }),
    ...(options.minVersion === undefined ? {} : { minVersion: options.minVersion }),
  };
}

/**
 * A TLS listener for `tls://`: calls `onSocket` with each socket whose TLS handshake
 * completed within `handshakeTimeoutMs`. Failed handshakes are counted through `onTlsError`.
 */
export function createTlsListener(options: TlsServerOptions, handshakeTimeoutMs: number, onSocket: (socket: TLSSocket) => void, onTlsError?: (error: Error) => void): TlsServer {
  const server = createTlsServer({ ...secureContext(options), handshakeTimeout: handshakeTimeoutMs, noDelay: true }, onSocket);
  // With a listener Node leaves the socket to us (a handshake timeout would not close it).
  server.on('tlsClientError', (error: Error, socket: TLSSocket) => {
    socket.destroy();
    onTlsError?.(error);
  });
  return server;
}

/** An HTTPS server for `wss://`, with the TLS handshake bounded by `handshakeTimeoutMs`. */
export function createHttpsListener(
  options: TlsServerOptions,
  handshakeTimeoutMs: number,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  onTlsError?: (error: Error) => void,
): HttpsServer {
  const server = createHttpsServer({ ...secureContext(options), handshakeTimeout: handshakeTimeoutMs, noDelay: true }, handler);
  server.on('tlsClientError', (error: Error, socket: TLSSocket) => {
    socket.destroy();
    onTlsError?.(error);
  });
  return server;
}

/**
 * Opens a TLS connection for `tls://host:port`; resolves once the server's certificate is
 * verified, rejects with the socket or verification error (or ETIMEDOUT after `timeoutMs`).
 */
export function dialTls(host: string, port: number, options: TlsClientOptions, timeoutMs: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const ca = options.ca === undefined ? undefined : Array.isArray(options.ca) ? [...(options.ca as readonly (string | Buffer)[])] : (options.ca as string | Buffer);
    const isIp = /^[\d.]+$|:/.test(host);
    const socket = connectTls({
      host,
      port,
      // SNI carries names only; an IP literal is checked against the certificate's IP SANs.
      ...(options.servername !== undefined ? { servername: options.servername } : isIp ? {} : { servername: host }),
      ...(ca === undefined ? {} : { ca }),
      ...(options.cert === undefined ? {} : { cert: options.cert }),
      ...(options.key === undefined ? {} : { key: options.key }),
      ...(options.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: options.rejectUnauthorized }),
    });
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error('TLS connect timed out'), { code: 'ETIMEDOUT' })), timeoutMs);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}
