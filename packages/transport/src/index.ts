/**
 * @vigil/transport: Node transports implementing the core `Transport` port:
 * length-prefixed TCP over `net` and binary WebSocket over `ws`.
 */
export { TcpTransport } from './tcp-transport.js';
export type { TcpTransportOptions } from './tcp-transport.js';
export { WsTransport } from './ws-transport.js';
export type { WsTransportOptions } from './ws-transport.js';
export { causeOfSocketError } from './socket-errors.js';
