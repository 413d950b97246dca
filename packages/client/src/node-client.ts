/**
 * `VigilClient` for Node, as `@vigil/client` exports it: the generic client with
 * `tcp://` and `ws://` dialled over `net` and `ws` by default, and kernel socket
 * options checked up front. Everything else lives in the Node-free `vigil-client.ts`.
 */
import { assertKernelOptionsUsable } from '@vigil/transport';
import { nodeTransportFactory } from './node-transports.js';
import { VigilClient, type VigilClientOptions } from './vigil-client.js';

export class NodeVigilClient<In = unknown, Out = unknown> extends VigilClient<In, Out> {
  /** @throws VigilError `ERR_VIGIL_INVALID_URL`, ConfigError for bad options or kernel options this platform cannot set. */
  constructor(url: string, options: VigilClientOptions = {}) {
    super(url, nodeDefaults(options));
  }
}

function nodeDefaults(options: VigilClientOptions): VigilClientOptions {
  if (options.kernel) assertKernelOptionsUsable(options.kernel);
  return options.transportFactory ? options : { ...options, transportFactory: nodeTransportFactory };
}
