/**
 * Kernel socket options Node cannot reach: TCP keepalive idle, interval and count,
 * and TCP_USER_TIMEOUT (nodejs/node#7217, #52048), set with libc `setsockopt` on the
 * socket's descriptor through the koffi FFI, then read back with `getsockopt` and
 * compared. Linux only; elsewhere (or with `bestEffort`) a warning replaces the error.
 */
import type { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { ConfigError, ErrorCode, VigilError } from '@vigil/protocol';
import koffi from 'koffi';

/**
 * TCP keepalive on one socket. A field left out keeps the kernel's value for the
 * socket's network namespace (sysctl `net.ipv4.tcp_keepalive_time`, `_intvl`,
 * `_probes`: 7200 s, 75 s and 9 unless changed). The kernel counts idle and interval
 * in whole seconds, so both must be multiples of 1000 ms.
 */
export interface KernelKeepalive {
  /** Idle time before the first probe, ms; 1000 to 32 767 000, whole seconds (TCP_KEEPIDLE). */
  readonly idleMs?: number;
  /** Time between unanswered probes, ms; 1000 to 32 767 000, whole seconds (TCP_KEEPINTVL). */
  readonly intervalMs?: number;
  /** Unanswered probes before the kernel aborts the connection; 1 to 127 (TCP_KEEPCNT). */
  readonly count?: number;
}

/** Per-connection kernel options, applied once the socket is connected. */
export interface KernelSocketOptions {
  /** Turns SO_KEEPALIVE on with these knobs. Default: keepalive left as it is (off). */
  readonly keepalive?: KernelKeepalive;
  /**
   * TCP_USER_TIMEOUT, ms (at least 1000): the longest data may stay unacknowledged (or
   * the window closed) before the kernel aborts with ETIMEDOUT; with keepalive on, it
   * also replaces the probe count (RFC 5482). Default: unset (tcp_retries2 rules).
   */
  readonly userTimeoutMs?: number;
  /** TCP_NODELAY. Default: left as it is. */
  readonly noDelay?: boolean;
  /** Warn (through `onWarning`) instead of throwing when an option cannot be set or verified. Default false. */
  readonly bestEffort?: boolean;
}

/** The kernel's view of one socket's options, read back with `getsockopt` (effective values, defaults included). */
export interface KernelSocketState {
  readonly keepalive: boolean;
  readonly keepaliveIdleMs: number;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveCount: number;
  /** 0 when unset. */
  readonly userTimeoutMs: number;
  readonly noDelay: boolean;
}

/** What `applyKernelOptions` achieved. */
export interface AppliedKernelOptions {
  /** The state read back after applying; null where the options cannot be read (best effort only). */
  readonly state: KernelSocketState | null;
  /** True when TCP_USER_TIMEOUT is in force, so that ETIMEDOUT means the user timeout fired. */
  readonly userTimeoutSet: boolean;
  /** What best effort could not do, one sentence each. */
  readonly warnings: readonly string[];
}

/** Names of the options this module sets, as `SocketOptionError.option` reports them. */
export type SocketOptionName = 'SO_KEEPALIVE' | 'TCP_KEEPIDLE' | 'TCP_KEEPINTVL' | 'TCP_KEEPCNT' | 'TCP_USER_TIMEOUT' | 'TCP_NODELAY';

/** A kernel socket option could not be set, or did not read back as set. */
export class SocketOptionError extends VigilError {
  /** The option concerned. */
  readonly option: SocketOptionName;
  /** The errno name (`EINVAL`, `EBADF`) when a syscall failed, else null. */
  readonly errno: string | null;

  constructor(code: ErrorCode, option: SocketOptionName, message: string, errno: string | null = null) {
    super(code, `${option}: ${message}`);
    this.name = 'SocketOptionError';
    this.option = option;
    this.errno = errno;
  }
}

/** Linux `<asm-generic/socket.h>` and `<netinet/tcp.h>` values, measured on x86-64. */
const SOL_SOCKET = 1;
const IPPROTO_TCP = 6;
const OPTION: Readonly<Record<SocketOptionName, readonly [level: number, name: number]>> = {
  SO_KEEPALIVE: [SOL_SOCKET, 9],
  TCP_NODELAY: [IPPROTO_TCP, 1],
  TCP_KEEPIDLE: [IPPROTO_TCP, 4],
  TCP_KEEPINTVL: [IPPROTO_TCP, 5],
  TCP_KEEPCNT: [IPPROTO_TCP, 6],
  TCP_USER_TIMEOUT: [IPPROTO_TCP, 18],
};
/** Architectures whose socket constants are the asm-generic ones above (not mips, sparc, alpha, parisc). */
const GENERIC_ARCHES: ReadonlySet<string> = new Set(['x64', 'arm64', 'ia32', 'arm', 'riscv64']);
/** MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL and MAX_TCP_KEEPCNT in `include/net/tcp.h`. */
const MAX_KEEPALIVE_SECONDS = 32_767;
const MAX_KEEPALIVE_COUNT = 127;

interface Libc {
  setsockopt(fd: number, level: number, name: number, value: Buffer, length: number): number;
  getsockopt(fd: number, level: number, name: number, value: Buffer, length: number[]): number;
}

let libc: Libc | string | undefined;

/** Binds libc once; returns the binding or why it is unavailable. */
function loadLibc(): Libc | string {
  if (libc !== undefined) return libc;
  if (process.platform !== 'linux') {
    libc = `kernel socket options are implemented for Linux only, this is ${process.platform}`;
  } else if (!GENERIC_ARCHES.has(process.arch)) {
    libc = `socket option constants are not known for Linux on ${process.arch}`;
  } else {
    try {
      const self = koffi.load(null);
      libc = {
        setsockopt: self.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t length)') as Libc['setsockopt'],
        getsockopt: self.func('int getsockopt(int fd, int level, int name, _Out_ void *value, _Inout_ uint32_t *length)') as Libc['getsockopt'],
      };
    } catch (error) {
      libc = `libc could not be bound through koffi: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  return libc;
}

/** Whether this platform can set and verify kernel options; the reason when it cannot. */
export function kernelOptionsSupport(): { readonly supported: true } | { readonly supported: false; readonly reason: string } {
  const l = loadLibc();
  return typeof l === 'string' ? { supported: false, reason: l } : { supported: true };
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));

function errnoName(): string {
  const n = koffi.errno();
  return ERRNO_NAMES.get(n) ?? `errno ${n}`;
}

function wholeSeconds(field: string, ms: number, what: string): void {
  if (!Number.isInteger(ms)) throw new ConfigError(field, `must be an integer number of ms, got ${String(ms)}`);
  if (ms < 1000) {
    throw new ConfigError(
      field,
      `must be at least 1000 ms, got ${ms}: the kernel counts ${what} in whole seconds, so a sub-second value cannot be honoured (Node's setKeepAlive would silently keep the 2-hour default instead)`,
    );
  }
  if (ms % 1000 !== 0) {
    throw new ConfigError(field, `must be a whole number of seconds, got ${ms} ms: the kernel counts ${what} in seconds and would truncate it to ${Math.floor(ms / 1000)} s`);
  }
  if (ms > MAX_KEEPALIVE_SECONDS * 1000) throw new ConfigError(field, `must be at most ${MAX_KEEPALIVE_SECONDS * 1000} ms (the kernel's limit), got ${ms}`);
}

/**
 * Checks kernel options before any socket exists.
 * @param field prefix for `ConfigError.field`, e.g. `kernel`.
 * @throws ConfigError naming the field and the reason (sub-second and fractional seconds are refused, never rounded).
 */
export function validateKernelOptions(options: KernelSocketOptions, field = 'kernel'): void {
  const ka = options.keepalive;
  if (ka !== undefined) {
    if (ka.idleMs !== undefined) wholeSeconds(`${field}.keepalive.idleMs`, ka.idleMs, 'keepalive idle time');
    if (ka.intervalMs !== undefined) wholeSeconds(`${field}.keepalive.intervalMs`, ka.intervalMs, 'the keepalive probe interval');
    if (ka.count !== undefined && !(Number.isInteger(ka.count) && ka.count >= 1 && ka.count <= MAX_KEEPALIVE_COUNT)) {
      throw new ConfigError(`${field}.keepalive.count`, `must be an integer from 1 to ${MAX_KEEPALIVE_COUNT}, got ${String(ka.count)}`);
    }
  }
  const ut = options.userTimeoutMs;
  if (ut !== undefined) {
    if (!Number.isInteger(ut) || ut > 2_147_483_647) throw new ConfigError(`${field}.userTimeoutMs`, `must be an integer number of ms, got ${String(ut)}`);
    if (ut < 1000) {
      throw new ConfigError(
        `${field}.userTimeoutMs`,
        `must be at least 1000 ms, got ${ut}: below a second the kernel would abort a healthy connection on one or two lost segments (the minimum retransmission timeout is 200 ms); omit it to leave TCP_USER_TIMEOUT unset`,
      );
    }
  }
}

/**
 * Validates, then checks the platform can apply the options.
 * @throws ConfigError for a refused value; SocketOptionError `ERR_VIGIL_SOCKET_OPTION_UNSUPPORTED`
 *   when the platform cannot set them and `bestEffort` is off.
 */
export function assertKernelOptionsUsable(options: KernelSocketOptions, field = 'kernel'): void {
  validateKernelOptions(options, field);
  const support = kernelOptionsSupport();
  const needsFfi = options.keepalive !== undefined || options.userTimeoutMs !== undefined;
  if (!support.supported && needsFfi && options.bestEffort !== true) {
    const option: SocketOptionName = options.userTimeoutMs !== undefined ? 'TCP_USER_TIMEOUT' : 'TCP_KEEPIDLE';
    throw new SocketOptionError(ErrorCode.SocketOptionUnsupported, option, `${support.reason}; set ${field}.bestEffort to run without it`);
  }
}

/** The socket's file descriptor, or -1 before `connect` (or for a socket without one). */
export function socketFd(socket: Socket): number {
  type WithHandle = { _handle?: { fd?: unknown } | null; _parent?: WithHandle | null };
  const s = socket as unknown as WithHandle;
  // A TLS socket wraps the TCP socket it was made from; the descriptor is on that one.
  const fd = s._handle?.fd ?? s._parent?._handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}

function requireFd(socket: Socket, option: SocketOptionName): number {
  const fd = socketFd(socket);
  if (fd < 0) {
    throw new SocketOptionError(ErrorCode.SocketOptionFailed, option, "the socket has no file descriptor: apply kernel options after 'connect' (and before it is destroyed)");
  }
  return fd;
}

function getInt(l: Libc, fd: number, option: SocketOptionName): number {
  const [level, name] = OPTION[option];
  const value = Buffer.alloc(4);
  const length = [4];
  if (l.getsockopt(fd, level, name, value, length) !== 0) {
    const errno = errnoName();
    throw new SocketOptionError(ErrorCode.SocketOptionFailed, option, `getsockopt failed with ${errno}`, errno);
  }
  return value.readInt32LE(0);
}

function setInt(l: Libc, fd: number, option: SocketOptionName, n: number): void {
  const [level, name] = OPTION[option];
  const value = Buffer.alloc(4);
  value.writeInt32LE(n, 0);
  if (l.setsockopt(fd, level, name, value, 4) !== 0) {
    const errno = errnoName();
    throw new SocketOptionError(ErrorCode.SocketOptionFailed, option, `setsockopt(${n}) failed with ${errno}`, errno);
  }
}

/**
 * Reads the kernel's view of the socket's options with `getsockopt`.
 * @throws SocketOptionError when the platform cannot (`..._UNSUPPORTED`) or a call fails (`..._FAILED`).
 */
export function readKernelOptions(socket: Socket): KernelSocketState {
  const l = loadLibc();
  if (typeof l === 'string') throw new SocketOptionError(ErrorCode.SocketOptionUnsupported, 'SO_KEEPALIVE', l);
  const fd = requireFd(socket, 'SO_KEEPALIVE');
  return {
    keepalive: getInt(l, fd, 'SO_KEEPALIVE') !== 0,
    keepaliveIdleMs: getInt(l, fd, 'TCP_KEEPIDLE') * 1000,
    keepaliveIntervalMs: getInt(l, fd, 'TCP_KEEPINTVL') * 1000,
    keepaliveCount: getInt(l, fd, 'TCP_KEEPCNT'),
    userTimeoutMs: getInt(l, fd, 'TCP_USER_TIMEOUT'),
    noDelay: getInt(l, fd, 'TCP_NODELAY') !== 0,
  };
}

/** The options to set, in order, with the value each must read back as. */
function plan(options: KernelSocketOptions): [SocketOptionName, number][] {
  const steps: [SocketOptionName, number][] = [];
  if (options.noDelay !== undefined) steps.push(['TCP_NODELAY', options.noDelay ? 1 : 0]);
  const ka = options.keepalive;
  if (ka !== undefined) {
    // SO_KEEPALIVE first: it arms the timer with whatever idle time is in force, and the
    // TCP_KEEPIDLE that follows re-arms it with ours (tcp_sock_set_keepidle).
    steps.push(['SO_KEEPALIVE', 1]);
    if (ka.idleMs !== undefined) steps.push(['TCP_KEEPIDLE', ka.idleMs / 1000]);
    if (ka.intervalMs !== undefined) steps.push(['TCP_KEEPINTVL', ka.intervalMs / 1000]);
    if (ka.count !== undefined) steps.push(['TCP_KEEPCNT', ka.count]);
  }
  if (options.userTimeoutMs !== undefined) steps.push(['TCP_USER_TIMEOUT', options.userTimeoutMs]);
  return steps;
}

function readBack(state: KernelSocketState, option: SocketOptionName): number {
  switch (option) {
    case 'SO_KEEPALIVE':
      return state.keepalive ? 1 : 0;
    case 'TCP_NODELAY':
      return state.noDelay ? 1 : 0;
    case 'TCP_KEEPIDLE':
      return state.keepaliveIdleMs / 1000;
    case 'TCP_KEEPINTVL':
      return state.keepaliveIntervalMs / 1000;
    case 'TCP_KEEPCNT':
      return state.keepaliveCount;
    case 'TCP_USER_TIMEOUT':
      return state.userTimeoutMs;
  }
}

/**
 * Applies kernel options to a connected socket and verifies each by reading it back.
 * Call it after `connect` (for accepted sockets: at once) and after any
 * `socket.setKeepAlive()`, which would overwrite interval and count again (libuv sets
 * 1 s and 10). Validate the options first with `validateKernelOptions`.
 *
 * @param onWarning receives one sentence per option best effort could not set.
 * @throws SocketOptionError naming the option when one cannot be set or reads back
 *   differently, unless `options.bestEffort` is true.
 */
export function applyKernelOptions(socket: Socket, options: KernelSocketOptions, onWarning: (message: string) => void = () => {}): AppliedKernelOptions {
  const warnings: string[] = [];
  const warn = (message: string): void => {
    warnings.push(message);
    onWarning(message);
  };
  const steps = plan(options);
  if (steps.length === 0) return { state: null, userTimeoutSet: false, warnings };
  const l = loadLibc();
  if (typeof l === 'string') {
    if (options.bestEffort !== true) throw new SocketOptionError(ErrorCode.SocketOptionUnsupported, steps[0]![0], l);
    fallBack(socket, options, l, warn);
    return { state: null, userTimeoutSet: false, warnings };
  }
  const failed = new Set<SocketOptionName>();
  for (const [option, value] of steps) {
    try {
      setInt(l, requireFd(socket, option), option, value);
    } catch (error) {
      if (options.bestEffort !== true || !(error instanceof SocketOptionError)) throw error;
      failed.add(option);
      warn(error.message);
    }
  }
  let state: KernelSocketState;
  try {
    state = readKernelOptions(socket);
  } catch (error) {
    if (options.bestEffort !== true || !(error instanceof SocketOptionError)) throw error;
    warn(`could not verify kernel options: ${error.message}`);
    return { state: null, userTimeoutSet: false, warnings };
  }
  for (const [option, value] of steps) {
    if (failed.has(option)) continue;
    const actual = readBack(state, option);
    if (actual === value) continue;
    const error = new SocketOptionError(ErrorCode.SocketOptionFailed, option, `set to ${value} but the kernel reports ${actual}`);
    if (options.bestEffort !== true) throw error;
    warn(error.message);
  }
  return { state, userTimeoutSet: state.userTimeoutMs > 0, warnings };
}

/** Without the FFI: what Node itself can do, and a warning for the rest. */
function fallBack(socket: Socket, options: KernelSocketOptions, reason: string, warn: (message: string) => void): void {
  if (options.noDelay !== undefined) socket.setNoDelay(options.noDelay);
  const ka = options.keepalive;
  if (ka !== undefined) {
    socket.setKeepAlive(true, ka.idleMs ?? 0);
    if (ka.intervalMs !== undefined || ka.count !== undefined || ka.idleMs === undefined) {
      warn(`TCP_KEEPINTVL/TCP_KEEPCNT: not set (${reason}); Node's setKeepAlive applied instead (idle ${ka.idleMs ?? 'default'} ms; libuv picks interval and count)`);
    }
  }
  if (options.userTimeoutMs !== undefined) warn(`TCP_USER_TIMEOUT: not set (${reason})`);
}
