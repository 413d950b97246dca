/**
 * Kernel socket options over real loopback sockets: what is set reads back with
 * getsockopt (and shows in `ss -tnoi`), the libuv facts the module works around
 * hold, bad values are refused with reasons, and failures name the option.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { ConfigError, ErrorCode } from '@vigil/protocol';
import {
  SocketOptionError,
  applyKernelOptions,
  assertKernelOptionsUsable,
  kernelOptionsSupport,
  readKernelOptions,
  socketFd,
  validateKernelOptions,
  type KernelSocketOptions,
} from '../src/socket-options.js';
import { TcpTransport } from '../src/tcp-transport.js';

interface Pair {
  client: Socket;
  server: Socket;
}

let server: Server;
let accepted: Socket[] = [];
const open: Socket[] = [];

beforeAll(async () => {
  server = createServer((s) => accepted.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterEach(() => {
  for (const s of [...open, ...accepted]) s.destroy();
  open.length = 0;
  accepted = [];
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function pair(): Promise<Pair> {
  const port = (server.address() as AddressInfo).port;
  const client = connect(port, '127.0.0.1');
  open.push(client);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  for (let i = 0; i < 100 && accepted.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  const s = accepted.shift();
  if (!s) throw new Error('server did not accept');
  open.push(s);
  return { client, server: s };
}

function sysctl(name: string): number {
  return Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim());
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

const tuned: KernelSocketOptions = { keepalive: { idleMs: 5000, intervalMs: 2000, count: 4 }, userTimeoutMs: 7000, noDelay: true };

describe('platform', () => {
  it('is supported on this Linux machine', () => {
    expect(kernelOptionsSupport()).toStrictEqual({ supported: true });
  });
});

describe('applyKernelOptions', () => {
  it('sets keepalive, user timeout and nodelay on a connected socket and reads them back', async () => {
    const { client } = await pair();
    const applied = applyKernelOptions(client, tuned);
    expect(applied).toStrictEqual({
      state: { keepalive: true, keepaliveIdleMs: 5000, keepaliveIntervalMs: 2000, keepaliveCount: 4, userTimeoutMs: 7000, noDelay: true },
      userTimeoutSet: true,
      warnings: [],
    });
    expect(readKernelOptions(client)).toStrictEqual(applied.state);
  });

  it('works on an accepted socket, leaving the other end untouched', async () => {
    const { client, server: accepted } = await pair();
    applyKernelOptions(accepted, { keepalive: { idleMs: 3000 }, userTimeoutMs: 4000 });
    expect(readKernelOptions(accepted)).toMatchObject({ keepalive: true, keepaliveIdleMs: 3000, userTimeoutMs: 4000 });
    expect(readKernelOptions(client)).toMatchObject({ keepalive: false, userTimeoutMs: 0 });
  });

  it('keeps the namespace defaults for keepalive fields left out', async () => {
    const { client } = await pair();
    const { state } = applyKernelOptions(client, { keepalive: { count: 5 } });
    expect(state).toMatchObject({
      keepalive: true,
      keepaliveIdleMs: sysctl('tcp_keepalive_time') * 1000,
      keepaliveIntervalMs: sysctl('tcp_keepalive_intvl') * 1000,
      keepaliveCount: 5,
    });
  });

  it('shows in the kernel view: ss reports the keepalive timer armed with the idle time', async () => {
    const { client } = await pair();
    applyKernelOptions(client, { keepalive: { idleMs: 9000, intervalMs: 1000, count: 2 } });
    const out = execFileSync('ss', ['-tnoiH', 'state', 'established', 'sport', '=', `:${client.localPort}`], { encoding: 'utf8' });
    const timer = /timer:\(keepalive,(?:(\d+)\.(\d+)ms|(\d+)sec),0\)/.exec(out);
    expect(timer).not.toBeNull();
    // ss prints "8.987ms" meaning 8.987 s (its print_ms_timer); the timer counts down from 9 s.
    const remainingMs = timer![3] !== undefined ? Number(timer![3]) * 1000 : Number(timer![1]) * 1000 + Number(timer![2]);
    expect(Math.ceil(remainingMs / 1000)).toBe(9);
  });

  it('is overwritten by a later setKeepAlive: libuv rewrites interval 1 s and count 10', async () => {
    const { client } = await pair();
    applyKernelOptions(client, { keepalive: { idleMs: 5000, intervalMs: 3000, count: 3 } });
    client.setKeepAlive(true, 4000);
    expect(readKernelOptions(client)).toMatchObject({ keepaliveIdleMs: 4000, keepaliveIntervalMs: 1000, keepaliveCount: 10 });
  });

  it("documents Node's own setKeepAlive: under a second leaves the system idle time in place", async () => {
    const { client } = await pair();
    client.setKeepAlive(true, 500);
    expect(readKernelOptions(client)).toMatchObject({ keepalive: true, keepaliveIdleMs: sysctl('tcp_keepalive_time') * 1000 });
  });

  it('does nothing and reports nothing without options', async () => {
    const { client } = await pair();
    expect(applyKernelOptions(client, {})).toStrictEqual({ state: null, userTimeoutSet: false, warnings: [] });
  });

  it('names the option and errno the kernel refused', async () => {
    const { client } = await pair();
    const error = caught(() => applyKernelOptions(client, { keepalive: { idleMs: 2000, count: 200 } }));
    expect(error).toBeInstanceOf(SocketOptionError);
    expect(error).toMatchObject({ code: ErrorCode.SocketOptionFailed, option: 'TCP_KEEPCNT', errno: 'EINVAL' });
    expect((error as Error).message).toBe('TCP_KEEPCNT: setsockopt(200) failed with EINVAL');
  });

  it('warns instead with bestEffort, and still sets the rest', async () => {
    const { client } = await pair();
    const seen: string[] = [];
    const applied = applyKernelOptions(client, { keepalive: { idleMs: 2000, count: 200 }, userTimeoutMs: 3000, bestEffort: true }, (m) => seen.push(m));
    expect(applied.warnings).toStrictEqual(['TCP_KEEPCNT: setsockopt(200) failed with EINVAL']);
    expect(seen).toStrictEqual(applied.warnings);
    expect(applied.state).toMatchObject({ keepalive: true, keepaliveIdleMs: 2000, userTimeoutMs: 3000 });
    expect(applied.userTimeoutSet).toBe(true);
  });

  it('refuses a socket that is not connected yet, naming the first option', () => {
    const socket = connect({ port: 9, host: '127.0.0.1' });
    socket.on('error', () => {});
    open.push(socket);
    expect(socketFd(socket)).toBe(-1);
    const error = caught(() => applyKernelOptions(socket, { userTimeoutMs: 2000 }));
    expect(error).toMatchObject({ code: ErrorCode.SocketOptionFailed, option: 'TCP_USER_TIMEOUT', errno: null });
  });

  it('refuses a destroyed socket', async () => {
    const { client } = await pair();
    client.destroy();
    expect(caught(() => readKernelOptions(client))).toMatchObject({ code: ErrorCode.SocketOptionFailed, option: 'SO_KEEPALIVE' });
  });
});

describe('validateKernelOptions', () => {
  function refusal(options: KernelSocketOptions): ConfigError {
    const error = caught(() => validateKernelOptions(options));
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }

  it('accepts whole seconds and a user timeout of a second or more', () => {
    expect(() => validateKernelOptions(tuned)).not.toThrow();
    expect(() => assertKernelOptionsUsable({ keepalive: {}, userTimeoutMs: 1000 })).not.toThrow();
  });

  it('refuses a sub-second idle time with the reason', () => {
    const e = refusal({ keepalive: { idleMs: 500 } });
    expect(e.field).toBe('kernel.keepalive.idleMs');
    expect(e.message).toBe(
      "kernel.keepalive.idleMs: must be at least 1000 ms, got 500: the kernel counts keepalive idle time in whole seconds, so a sub-second value cannot be honoured (Node's setKeepAlive would silently keep the 2-hour default instead)",
    );
  });

  it('refuses fractional seconds rather than rounding them', () => {
    const e = refusal({ keepalive: { intervalMs: 1500 } });
    expect(e.field).toBe('kernel.keepalive.intervalMs');
    expect(e.message).toBe(
      'kernel.keepalive.intervalMs: must be a whole number of seconds, got 1500 ms: the kernel counts the keepalive probe interval in seconds and would truncate it to 1 s',
    );
  });

  it.each([
    [{ keepalive: { count: 0 } }, 'kernel.keepalive.count'],
    [{ keepalive: { count: 128 } }, 'kernel.keepalive.count'],
    [{ keepalive: { idleMs: 32_768_000 } }, 'kernel.keepalive.idleMs'],
    [{ userTimeoutMs: 999 }, 'kernel.userTimeoutMs'],
    [{ userTimeoutMs: 1000.5 }, 'kernel.userTimeoutMs'],
  ] as [KernelSocketOptions, string][])('refuses %j in %s', (options, field) => {
    expect(refusal(options).field).toBe(field);
  });

  it('uses the caller prefix in field names', () => {
    const error = caught(() => validateKernelOptions({ userTimeoutMs: 10 }, 'server.kernel'));
    expect(error).toMatchObject({ field: 'server.kernel.userTimeoutMs' });
  });
});

describe('TcpTransport with kernel options', () => {
  it('applies them after its own setNoDelay and keeps the result', async () => {
    const { client } = await pair();
    const transport = new TcpTransport(client, { kernel: { noDelay: false, keepalive: { idleMs: 2000, intervalMs: 1000, count: 3 }, userTimeoutMs: 3000 } });
    expect(transport.kernel?.state).toStrictEqual({
      keepalive: true,
      keepaliveIdleMs: 2000,
      keepaliveIntervalMs: 1000,
      keepaliveCount: 3,
      userTimeoutMs: 3000,
      noDelay: false,
    });
    transport.destroy();
    await transport.closed;
  });

  it('reports kernel-user-timeout when the peer stops reading and the window stays shut', async () => {
    const { client, server: peer } = await pair();
    // The peer's process stops reading (as a frozen one would); its kernel keeps answering
    // zero-window probes, so only TCP_USER_TIMEOUT bounds the stall (Linux 5.11+).
    peer.pause();
    const transport = new TcpTransport(client, { kernel: { userTimeoutMs: 1000 } });
    const chunk = new Uint8Array(256 * 1024);
    for (let i = 0; i < 64 && transport.bufferedBytes < 8 * 1024 * 1024; i++) transport.send(chunk);
    const end = await transport.closed;
    expect(end.cause).toBe('kernel-user-timeout');
    expect((end.error as Error & { code?: string }).code).toBe('ETIMEDOUT');
  });
});
