/**
 * @vigil/transport: Node transports implementing the core `Transport` port:
 * length-prefixed TCP over `net` (or TLS) and binary WebSocket over `ws` (or WSS).
 */
export { TcpTransport } from './tcp-transport.js';
export type { TcpTransportOptions } from './tcp-transport.js';
export { WsTransport } from './ws-transport.js';
export type { WsTransportOptions } from './ws-transport.js';
export { causeOfSocketError } from './socket-errors.js';
export { createTlsListener, createHttpsListener, dialTls } from './tls.js';
export type { TlsServerOptions, TlsClientOptions } from './tls.js';
export {
  applyKernelOptions,
  assertKernelOptionsUsable,
  kernelOptionsSupport,
  readKernelOptions,
  socketFd,
  validateKernelOptions,
  SocketOptionError,
} from './socket-options.js';
export type { AppliedKernelOptions, KernelKeepalive, KernelSocketOptions, KernelSocketState, SocketOptionName } from './socket-options.js';
