/**
 * Reads `/proc/net/tcp` and `/proc/net/tcp6` (Linux) and indexes the sockets for
 * matching peers; elsewhere it reports itself unavailable and the page hides the
 * kernel view. Reading is async and never throws.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { indexSockets, parseProcNetTcp, type SocketIndex, type TcpSocketEntry } from '../proc-net-tcp.js';

export const PROC_NET_TCP_PATHS: readonly string[] = ['/proc/net/tcp', '/proc/net/tcp6'];

export class KernelSampler {
  readonly available: boolean;

  constructor(private readonly paths: readonly string[] = PROC_NET_TCP_PATHS) {
    this.available = paths.some((p) => existsSync(p));
  }

  /** The current socket table, or null when no file could be read. */
  async sample(): Promise<SocketIndex | null> {
    if (!this.available) return null;
    const texts = await Promise.all(this.paths.map((p) => readFile(p, 'latin1').catch(() => null)));
    if (texts.every((t) => t === null)) return null;
    return indexSockets(texts.flatMap((t): TcpSocketEntry[] => (t === null ? [] : parseProcNetTcp(t))));
  }
}
