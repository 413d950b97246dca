/**
 * @vigil/client: a Vigil client for Node over `tcp://`, `tls://`, `ws://` and `wss://` URLs, with the
 * same session model as the server: liveness stream, RTT, clock offset, reconnect.
 */
export { NodeVigilClient as VigilClient } from './node-client.js';
export type { VigilClientOptions, ClientStatus, SessionLost } from './vigil-client.js';
export { nodeTransportFactory, parseVigilUrl } from './node-transports.js';
export type { TransportFactory, TransportDialOptions } from './node-transports.js';
