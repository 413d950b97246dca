/**
 * @vigil/client: a Vigil client for Node over `tcp://` and `ws://` URLs, with the
 * same session model as the server: liveness stream, RTT, clock offset, reconnect.
 */
export { VigilClient } from './vigil-client.js';
export type { VigilClientOptions, ClientStatus } from './vigil-client.js';
export { nodeTransportFactory, parseVigilUrl } from './node-transports.js';
export type { TransportFactory, TransportDialOptions } from './node-transports.js';
