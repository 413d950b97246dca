/**
 * Opens Node transports for client URLs: `tcp://host:port` over `net`, `tls://host:port`
 * over `tls`, and `ws://` / `wss://host:port/path` over `ws` offering the `vigil.v1`
 * subprotocol.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import type { Transport } from '@vigil/core';
import { WS_SUBPROTOCOL } from '@vigil/protocol';
import { TcpTransport, WsTransport, dialTls, type KernelSocketOptions, type TlsClientOptions } from '@vigil/transport';
import WebSocket from 'ws';

export interface TransportDialOptions {
  readonly maxFrameBytes: number;
  readonly connectTimeoutMs: number;
  readonly lingerMs: number;
  /** Kernel options for the connected socket (Node transports only); the dial fails with SocketOptionError if they cannot be set. */
  readonly kernel?: KernelSocketOptions;
  readonly onKernelWarning?: (message: string) => void;
  /** TLS settings for `tls://` and `wss://` (Node transports only). */
  readonly tls?: TlsClientOptions;
  /** Local (source) address to dial from, e.g. one of 127.0.0.x to pass the ephemeral-port limit of one (source, destination) pair. Default: the OS picks. */
  readonly localAddress?: string;
}

/** Opens a transport to `url`; rejects with the socket error if it cannot connect. */
export type TransportFactory = (url: URL, options: TransportDialOptions) => Promise<Transport>;

// Kept here for existing importers; it lives in a Node-free module the browser entry shares.
export { parseVigilUrl } from './vigil-url.js';

export const nodeTransportFactory: TransportFactory = (url, options) => {
  const scheme = url.protocol.replace(/:$/, '');
  if (scheme === 'tls') return dialTlsTcp(url, options);
  return scheme === 'tcp' ? dialTcp(url, options) : dialWs(url, options);
};

async function dialTlsTcp(url: URL, options: TransportDialOptions): Promise<Transport> {
  const socket = await dialTls(url.hostname.replace(/^\[|\]$/g, ''), Number(url.port), options.tls ?? {}, options.connectTimeoutMs);
  try {
    return new TcpTransport(socket, { maxFrameBytes: options.maxFrameBytes, lingerMs: options.lingerMs, ...kernelOf(options) });
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

function dialTcp(url: URL, options: TransportDialOptions): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port), noDelay: true, ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }) });
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })), options.connectTimeoutMs);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      try {
        resolve(new TcpTransport(socket, { maxFrameBytes: options.maxFrameBytes, lingerMs: options.lingerMs, ...kernelOf(options) }));
      } catch (error) {
        socket.destroy();
        reject(error);
      }
    });
  });
}

function dialWs(url: URL, options: TransportDialOptions): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const tls = options.tls;
    const ws = new WebSocket(url, WS_SUBPROTOCOL, {
      maxPayload: options.maxFrameBytes,
      handshakeTimeout: options.connectTimeoutMs,
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
      ...(tls?.ca === undefined ? {} : { ca: Array.isArray(tls.ca) ? [...(tls.ca as readonly (string | Buffer)[])] : (tls.ca as string | Buffer) }),
      ...(tls?.cert === undefined ? {} : { cert: tls.cert }),
      ...(tls?.key === undefined ? {} : { key: tls.key }),
      ...(tls?.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: tls.rejectUnauthorized }),
      ...(tls?.servername === undefined ? {} : { servername: tls.servername }),
    });
    let socket: Socket | undefined;
    ws.once('upgrade', (response) => {
      socket = response.socket;
    });
    ws.once('error', reject);
    ws.once('open', () => {
      ws.off('error', reject);
      try {
        resolve(new WsTransport(ws, { remote: url.host, lingerMs: options.lingerMs, ...(socket && options.kernel ? { socket } : {}), ...kernelOf(options) }));
      } catch (error) {
        ws.terminate();
        reject(error);
      }
    });
  });
}

function kernelOf(options: TransportDialOptions): { kernel?: KernelSocketOptions; onKernelWarning?: (message: string) => void } {
  if (!options.kernel) return {};
  return { kernel: options.kernel, ...(options.onKernelWarning ? { onKernelWarning: options.onKernelWarning } : {}) };
}
