/**
 * @vigil/client/browser: the Vigil client for web pages, over the native WebSocket
 * (`ws://`, `wss://`), with the same API as the Node entry (liveness stream, RTT, clock
 * offset, reconnect) plus background mode (docs/browser.md). Bundled by
 * scripts/build-browser.ts into one ESM file, dist/vigil-client.browser.js.
 */
export { BrowserVigilClient as VigilClient } from './browser-client.js';
export type { BrowserClientOptions as VigilClientOptions, BackgroundOptions, DeadlineVerdict } from './browser-client.js';
export type { ClientStatus, SessionLost } from './vigil-client.js';
export { BrowserWsTransport, browserTransportFactory, browserCloseCode, browserCloseReason } from './browser-transport.js';
export type { BrowserTransportOptions, WebSocketConstructor, WebSocketLike, SocketEventMap } from './browser-transport.js';
export { PageLifecycle, LIFECYCLE_DEFAULTS, browserEnvironment } from './page-lifecycle.js';
export type { LifecycleEnvironment, LifecycleTarget, PageLifecycleOptions, Wake } from './page-lifecycle.js';
export { parseVigilUrl } from './vigil-url.js';
export type { TransportFactory, TransportDialOptions } from './node-transports.js';
export { MessageType, CloseCode, Visibility } from '@vigil/protocol';
export type { PeerState, Cause, StateChange } from '@vigil/core';
