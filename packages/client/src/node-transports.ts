/**
 * Opens Node transports for client URLs: `tcp://host:port` over `net`, and
 * `ws://host:port/path` over `ws` offering the `vigil.v1` subprotocol.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import type { Transport } from '@vigil/core';
import { ErrorCode, VigilError, WS_SUBPROTOCOL } from '@vigil/protocol';
import { TcpTransport, WsTransport, type KernelSocketOptions } from '@vigil/transport';
import WebSocket from 'ws';

export interface TransportDialOptions {
  readonly maxFrameBytes: number;
  readonly connectTimeoutMs: number;
  readonly lingerMs: number;
  /** Kernel options for the connected socket (Node transports only); the dial fails with SocketOptionError if they cannot be set. */
  readonly kernel?: KernelSocketOptions;
  readonly onKernelWarning?: (message: string) => void;
}

/** Opens a transport to `url`; rejects with the socket error if it cannot connect. */
export type TransportFactory = (url: URL, options: TransportDialOptions) => Promise<Transport>;

/** Parses and checks a client URL. @throws VigilError `ERR_VIGIL_INVALID_URL`. */
export function parseVigilUrl(url: string, schemes: readonly string[]): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new VigilError(ErrorCode.InvalidUrl, `not a URL: ${url}`, { cause });
  }
  const scheme = parsed.protocol.replace(/:$/, '');
  if (!schemes.includes(scheme)) throw new VigilError(ErrorCode.InvalidUrl, `unsupported scheme "${scheme}" in ${url}; use one of ${schemes.join(', ')}`);
  if (parsed.port === '' && scheme === 'tcp') throw new VigilError(ErrorCode.InvalidUrl, `missing port in ${url}`);
  return parsed;
}

export const nodeTransportFactory: TransportFactory = (url, options) => {
  const scheme = url.protocol.replace(/:$/, '');
  return scheme === 'tcp' ? dialTcp(url, options) : dialWs(url, options);
};

function dialTcp(url: URL, options: TransportDialOptions): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port), noDelay: true });
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
    const ws = new WebSocket(url, WS_SUBPROTOCOL, { maxPayload: options.maxFrameBytes, handshakeTimeout: options.connectTimeoutMs });
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
