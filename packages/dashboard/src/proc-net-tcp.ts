/**
 * A pure parser for Linux's `/proc/net/tcp` and `/proc/net/tcp6` (one line per
 * socket, written by `tcp4_seq_show`/`tcp6_seq_show` in net/ipv4/tcp_ipv4.c and
 * net/ipv6/tcp_ipv6.c), and the address normalisation needed to match a line to a
 * peer's `host:port`. No I/O: the kernel sampler reads the files and calls this.
 */

/** TCP states by their number in `include/net/tcp_states.h`. */
export const TCP_STATES = {
  1: 'ESTABLISHED',
  2: 'SYN_SENT',
  3: 'SYN_RECV',
  4: 'FIN_WAIT1',
  5: 'FIN_WAIT2',
  6: 'TIME_WAIT',
  7: 'CLOSE',
  8: 'CLOSE_WAIT',
  9: 'LAST_ACK',
  10: 'LISTEN',
  11: 'CLOSING',
  12: 'NEW_SYN_RECV',
} as const;

export type TcpState = (typeof TCP_STATES)[keyof typeof TCP_STATES] | 'UNKNOWN';

/**
 * The `tr` column: which kernel timer is pending. 1 covers the retransmission timer
 * and its relatives (tail loss probe, RACK reordering); 2 is `sk_timer`, i.e. the
 * keepalive timer on an established socket.
 */
export const TCP_TIMERS = {
  0: 'off',
  1: 'retransmit',
  2: 'keepalive',
  3: 'time-wait',
  4: 'zero-window-probe',
} as const;

export type TcpTimer = (typeof TCP_TIMERS)[keyof typeof TCP_TIMERS] | 'unknown';

export interface TcpEndpoint {
  /** IPv4 dotted quad, or IPv6 in RFC 5952 form (`::1`, `::ffff:127.0.0.1`), as Node prints addresses. */
  readonly address: string;
  readonly port: number;
}

/** One socket as the kernel sees it. */
export interface TcpSocketEntry {
  readonly local: TcpEndpoint;
  readonly remote: TcpEndpoint;
  readonly state: TcpState;
  /** Bytes sent and not yet acknowledged (for LISTEN: the accept backlog). */
  readonly txQueue: number;
  /** Bytes received and not yet read by the application. */
  readonly rxQueue: number;
  readonly timer: TcpTimer;
  /** Ms until the pending timer fires; 0 when no timer is pending. */
  readonly timerMs: number;
  /** Unrecovered retransmissions of the current segment (`icsk_retransmits`). */
  readonly retransmits: number;
  /** Unanswered zero-window or keepalive probes (`icsk_probes_out`). */
  readonly probes: number;
  readonly uid: number;
  readonly inode: number;
}

/** Linux exposes timer values in USER_HZ clock ticks, which is 100 on every architecture Node runs on. */
export const USER_HZ = 100;

function hexInt(s: string | undefined): number | null {
  if (s === undefined || !/^[0-9A-Fa-f]+$/.test(s)) return null;
  return Number.parseInt(s, 16);
}

function decInt(s: string | undefined): number | null {
  if (s === undefined || !/^-?\d+$/.test(s)) return null;
  return Number.parseInt(s, 10);
}

/**
 * The kernel prints each 32-bit word of an address with `%08X` in host byte order,
 * so on little-endian machines every word's bytes come out reversed.
 */
function wordBytes(hex: string, littleEndian: boolean): number[] {
  const out: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    const word = [0, 2, 4, 6].map((i) => Number.parseInt(hex.slice(w + i, w + i + 2), 16));
    out.push(...(littleEndian ? word.reverse() : word));
  }
  return out;
}

/** Formats 16 bytes as RFC 5952 text: lowercase, no leading zeros, the longest zero run (2+ groups) as `::`, IPv4-mapped as `::ffff:a.b.c.d`. */
export function formatIpv6(bytes: readonly number[]): string {
  const isMapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (isMapped) return `::ffff:${bytes.slice(12).join('.')}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function parseEndpoint(field: string | undefined, littleEndian: boolean): TcpEndpoint | null {
  if (field === undefined) return null;
  const colon = field.indexOf(':');
  if (colon < 0) return null;
  const addr = field.slice(0, colon);
  const port = hexInt(field.slice(colon + 1));
  if (port === null || !/^[0-9A-Fa-f]+$/.test(addr)) return null;
  if (addr.length === 8) return { address: wordBytes(addr, littleEndian).join('.'), port };
  if (addr.length === 32) return { address: formatIpv6(wordBytes(addr, littleEndian)), port };
  return null;
}

export interface ParseOptions {
  /** Byte order of the machine that wrote the file. Default: little-endian (x86, arm64). */
  readonly littleEndian?: boolean;
  /** Clock ticks per second of the timer column. Default `USER_HZ` (100). */
  readonly ticksPerSecond?: number;
}

/**
 * Parses one socket line of `/proc/net/tcp` or `/proc/net/tcp6`; null for the header
 * line or anything malformed. Works for full sockets and for the shorter TIME_WAIT
 * and request-socket lines (they share the first twelve columns).
 */
export function parseProcNetTcpLine(line: string, options: ParseOptions = {}): TcpSocketEntry | null {
  const f = line.trim().split(/\s+/);
  // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
  if (f.length < 10 || !/^\d+:$/.test(f[0] ?? '')) return null;
  const littleEndian = options.littleEndian ?? true;
  const local = parseEndpoint(f[1], littleEndian);
  const remote = parseEndpoint(f[2], littleEndian);
  const st = hexInt(f[3]);
  const [tx, rx] = (f[4] ?? '').split(':');
  const [tr, when] = (f[5] ?? '').split(':');
  const txQueue = hexInt(tx);
  const rxQueue = hexInt(rx);
  const timerCode = hexInt(tr);
  const ticks = hexInt(when);
  const retransmits = hexInt(f[6]);
  const uid = decInt(f[7]);
  const probes = decInt(f[8]);
  const inode = decInt(f[9]);
  if (local === null || remote === null || st === null || txQueue === null || rxQueue === null || timerCode === null || ticks === null) return null;
  if (retransmits === null || uid === null || probes === null || inode === null) return null;
  const state: TcpState = (TCP_STATES as Record<number, TcpState>)[st] ?? 'UNKNOWN';
  const timer: TcpTimer = (TCP_TIMERS as Record<number, TcpTimer>)[timerCode] ?? 'unknown';
  return {
    local,
    remote,
    state,
    txQueue,
    rxQueue,
    timer,
    timerMs: timer === 'off' ? 0 : Math.round((ticks * 1000) / (options.ticksPerSecond ?? USER_HZ)),
    retransmits,
    probes,
    uid,
    inode,
  };
}

/** Parses a whole file's text; the header and malformed lines are skipped. */
export function parseProcNetTcp(text: string, options: ParseOptions = {}): TcpSocketEntry[] {
  const out: TcpSocketEntry[] = [];
  for (const line of text.split('\n')) {
    const entry = parseProcNetTcpLine(line, options);
    if (entry !== null) out.push(entry);
  }
  return out;
}

/**
 * Splits a `host:port` string as Node and Vigil print it (IPv6 without brackets,
 * e.g. `::1:5000`; brackets are accepted too) and normalises IPv4-mapped IPv6 to
 * plain IPv4, so `::ffff:127.0.0.1:5000` and `127.0.0.1:5000` compare equal.
 */
export function parseHostPort(s: string): TcpEndpoint | null {
  const colon = s.lastIndexOf(':');
  if (colon <= 0) return null;
  let host = s.slice(0, colon);
  const portText = s.slice(colon + 1);
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port > 65535) return null;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { address: normalizeAddress(host), port };
}

/** Lowercases and maps `::ffff:a.b.c.d` to `a.b.c.d`. */
export function normalizeAddress(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && lower.includes('.') ? lower.slice(7) : lower;
}

/** A stable key for an endpoint, after normalisation. */
export function endpointKey(e: TcpEndpoint): string {
  return `${normalizeAddress(e.address)}|${e.port}`;
}

/** Sockets indexed by either end, for matching peers to kernel entries. */
export interface SocketIndex {
  readonly byRemote: ReadonlyMap<string, readonly TcpSocketEntry[]>;
  readonly byLocal: ReadonlyMap<string, readonly TcpSocketEntry[]>;
}

export function indexSockets(entries: Iterable<TcpSocketEntry>): SocketIndex {
  const byRemote = new Map<string, TcpSocketEntry[]>();
  const byLocal = new Map<string, TcpSocketEntry[]>();
  const add = (map: Map<string, TcpSocketEntry[]>, key: string, e: TcpSocketEntry): void => {
    const list = map.get(key);
    if (list) list.push(e);
    else map.set(key, [e]);
  };
  for (const e of entries) {
    if (e.state === 'LISTEN') continue;
    add(byRemote, endpointKey(e.remote), e);
    add(byLocal, endpointKey(e.local), e);
  }
  return { byRemote, byLocal };
}

/** The two kernel sockets of one connection, as far as this host can see them. */
export interface SocketMatch {
  /** Our side: the socket whose remote end is the peer. */
  readonly ours: TcpSocketEntry | null;
  /** The peer's side, when the peer runs on this host (loopback or a local address). */
  readonly theirs: TcpSocketEntry | null;
}

function pick(list: readonly TcpSocketEntry[] | undefined, other: TcpEndpoint | null, side: 'local' | 'remote'): TcpSocketEntry | null {
  if (list === undefined || list.length === 0) return null;
  if (other === null) return list[0] ?? null;
  const key = endpointKey(other);
  return list.find((e) => endpointKey(e[side]) === key) ?? null;
}

/**
 * Finds a connection's sockets from the peer's address (`remote`) and, when known,
 * our local address (`local`). Without `local` a remote endpoint can be ambiguous
 * (Linux reuses an ephemeral port towards different destinations); the first match wins.
 */
export function findConnection(index: SocketIndex, remote: TcpEndpoint, local: TcpEndpoint | null): SocketMatch {
  const ours = pick(index.byRemote.get(endpointKey(remote)), local, 'local');
  const theirs = pick(index.byLocal.get(endpointKey(remote)), local ?? ours?.local ?? null, 'remote');
  return { ours, theirs };
}
