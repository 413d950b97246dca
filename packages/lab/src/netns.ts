/**
 * The lab's network: namespace A (the observer, with a bridge) and namespace B (the
 * peer), joined by a veth pair whose A end is a bridge port, so B can be destroyed and
 * rebuilt (a reboot) without A losing its address or routes. Nothing is created in the
 * root namespace. Every command is synchronous so that cleanup can run from a signal
 * or `exit` handler; cleanup also removes what a crashed earlier lab left behind.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/** Every namespace the lab creates is named `vlab-<pid>-<role>`; stale ones are found by this prefix. */
export const NS_PREFIX = 'vlab-';
/** RFC 2544 benchmarking range: routed nowhere, and only ever inside the lab's namespaces. */
export const OBSERVER_ADDR = '198.18.0.1';
export const PEER_ADDR = '198.18.0.2';
const PREFIX_LEN = 24;
/** Fixed, locally administered MACs: a rebuilt peer answers at the same link address, as a rebooted host would. */
const MAC_A = '02:00:c6:12:00:01';
const MAC_B = '02:00:c6:12:00:02';
const BRIDGE = 'vlbr0';
const VETH_A = 'vla';
const VETH_B = 'vlb';

/** A lab failure the user can act on (not root, a tool missing, a command failing). */
export class LabError extends Error {
  override readonly name = 'LabError';
}

/** Runs a command, returns stdout; throws LabError with stderr on failure. */
export function run(cmd: string, args: readonly string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 10_000, ...(input !== undefined ? { input } : {}) });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new LabError(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

/** Like `run`, but failures are ignored (cleanup must go on). */
function tryRun(cmd: string, args: readonly string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
  } catch {
    // Already gone, or never created.
  }
}

/** Like `tryRun`, without blocking the event loop (a signal handler must stay responsive: tsx kills a child that does not acknowledge a relayed signal within 30 ms). */
function tryRunAsync(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 10_000, encoding: 'utf8' }, (_error, stdout) => resolve(stdout ?? ''));
  });
}

/** Debian packages that provide the tools the lab runs. */
export const APT_PACKAGES = { ip: 'iproute2', ss: 'iproute2', nft: 'nftables' } as const;

/** Throws a LabError saying what is missing: root, or one of `ip`, `ss`, `nft`. */
export function checkPrerequisites(): void {
  if (process.platform !== 'linux') throw new LabError(`the lab needs Linux network namespaces; this is ${process.platform}`);
  if (process.getuid?.() !== 0) {
    throw new LabError('the lab creates network namespaces, a veth pair and nftables rules, which needs root: run it as root (e.g. `sudo pnpm lab`)');
  }
  for (const [tool, pkg] of Object.entries(APT_PACKAGES)) {
    try {
      execFileSync(tool, tool === 'nft' ? ['--version'] : ['-V'], { stdio: 'ignore' });
    } catch {
      throw new LabError(`\`${tool}\` was not found: install it (Debian/Ubuntu: apt-get install -y ${pkg})`);
    }
  }
}

function namespaces(): string[] {
  // `ip netns list` prints "name" or "name (id: N)".
  return run('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '');
}

function killPids(text: string): void {
  for (const pid of text.split(/\s+/).filter(Boolean).map(Number)) {
    if (pid === process.pid) continue;
    try {
      process.kill(pid, 'SIGCONT');
      process.kill(pid, 'SIGKILL');
    } catch {
      // Exited meanwhile.
    }
  }
}

/** After its processes are dead: abort the sockets, delete the links, then the namespace. */
function removalSteps(ns: string): [string, string[]][] {
  return [
    // A killed process's orphaned sockets would keep a deleted namespace alive.
    ['ss', ['-N', ns, '-K', '-t', '-a']],
    ...[VETH_B, VETH_A, BRIDGE].map((dev): [string, string[]] => ['ip', ['-n', ns, 'link', 'del', dev]]),
    ['ip', ['netns', 'del', ns]],
  ];
}

/**
 * Removes one namespace in the order that cannot leave it pinned: kill its processes,
 * abort its sockets (`ss -K`), delete its veth and bridge, then the namespace.
 * Synchronous, for `exit` and crash handlers.
 */
export function removeNamespace(ns: string): void {
  let pids: string;
  try {
    pids = run('ip', ['netns', 'pids', ns]);
  } catch {
    return;
  }
  killPids(pids);
  for (const [cmd, args] of removalSteps(ns)) tryRun(cmd, args);
}

/** `removeNamespace` without blocking the event loop, for signal handlers. */
export async function removeNamespaceAsync(ns: string): Promise<void> {
  killPids(await tryRunAsync('ip', ['netns', 'pids', ns]));
  for (const [cmd, args] of removalSteps(ns)) await tryRunAsync(cmd, args);
}

/** Whether `pid` is a live lab process (so its namespaces are not stale). */
function labAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync(cmdline)) return false;
  try {
    return readFileSync(cmdline, 'utf8').includes('lab');
  } catch {
    return false;
  }
}

/** Removes namespaces left by labs that are no longer running; returns their names. */
export function cleanupStale(): string[] {
  const removed: string[] = [];
  for (const ns of namespaces()) {
    const m = /^vlab-(\d+)-[ab]$/.exec(ns);
    if (m === null || labAlive(Number(m[1]))) continue;
    removeNamespace(ns);
    removed.push(ns);
  }
  return removed;
}

/** The two namespaces of one lab process. */
export class Topology {
  readonly nsA: string;
  readonly nsB: string;
  private aUp = false;
  private bUp = false;

  constructor(id: number = process.pid) {
    this.nsA = `${NS_PREFIX}${id}-a`;
    this.nsB = `${NS_PREFIX}${id}-b`;
  }

  /** Namespace A with the bridge and its address; call once. */
  createA(): void {
    this.aUp = true;
    run('ip', ['netns', 'add', this.nsA]);
    this.quiet(this.nsA);
    run('ip', ['-n', this.nsA, 'link', 'set', 'lo', 'up']);
    run('ip', ['-n', this.nsA, 'link', 'add', BRIDGE, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
    run('ip', ['-n', this.nsA, 'addr', 'add', `${OBSERVER_ADDR}/${PREFIX_LEN}`, 'dev', BRIDGE]);
    run('ip', ['-n', this.nsA, 'link', 'set', BRIDGE, 'up']);
  }

  /** Namespace B (the peer's host) and its veth into A's bridge; again after `destroyB` for a reboot. */
  createB(): void {
    this.bUp = true;
    run('ip', ['netns', 'add', this.nsB]);
    this.quiet(this.nsB);
    run('ip', ['-n', this.nsB, 'link', 'set', 'lo', 'up']);
    run('ip', ['-n', this.nsA, 'link', 'add', VETH_A, 'address', MAC_A, 'type', 'veth', 'peer', 'name', VETH_B, 'address', MAC_B, 'netns', this.nsB]);
    run('ip', ['-n', this.nsA, 'link', 'set', VETH_A, 'master', BRIDGE]);
    run('ip', ['-n', this.nsA, 'link', 'set', VETH_A, 'up']);
    run('ip', ['-n', this.nsB, 'addr', 'add', `${PEER_ADDR}/${PREFIX_LEN}`, 'dev', VETH_B]);
    run('ip', ['-n', this.nsB, 'link', 'set', VETH_B, 'up']);
  }

  /** Tears B down (processes, sockets, veth, namespace): a power cut, when preceded by `blackhole`. */
  destroyB(): void {
    removeNamespace(this.nsB);
    this.bUp = false;
  }

  /** Drops every packet in and out of B's link (nftables in B, so A's stack sees pure loss). */
  blackhole(): void {
    run('ip', ['netns', 'exec', this.nsB, 'nft', '-f', '-'], [
      'table inet vigil_lab {',
      '  chain in { type filter hook input priority -300; policy accept; iifname != "lo" drop; }',
      '  chain out { type filter hook output priority -300; policy accept; oifname != "lo" drop; }',
      '}',
      '',
    ].join('\n'));
  }

  /** Sets B's end of the link down (A's bridge port loses carrier). */
  linkDown(): void {
    run('ip', ['-n', this.nsB, 'link', 'set', VETH_B, 'down']);
  }

  /** Aborts every TCP socket left in A (a previous run's observer). */
  resetSocketsA(): void {
    tryRun('ss', ['-N', this.nsA, '-K', '-t', '-a']);
  }

  /** The kernel view of A's TCP sockets (`ss -tnoiHO`), asynchronously. */
  ssArgs(): string[] {
    return ['-N', this.nsA, '-tnoiHO'];
  }

  /** `sysctl -n` values inside A. */
  sysctl(names: readonly string[]): number[] {
    return run('ip', ['netns', 'exec', this.nsA, 'sysctl', '-n', ...names])
      .trim()
      .split('\n')
      .map(Number);
  }

  /** Removes everything this topology created; idempotent and synchronous (for `exit` and crash handlers). */
  destroy(): void {
    if (this.bUp) this.destroyB();
    if (this.aUp) removeNamespace(this.nsA);
    this.aUp = false;
  }

  /** `destroy` without blocking the event loop (for signal handlers). */
  async destroyAsync(): Promise<void> {
    const [a, b] = [this.aUp, this.bUp];
    this.aUp = false;
    this.bUp = false;
    if (b) await removeNamespaceAsync(this.nsB);
    if (a) await removeNamespaceAsync(this.nsA);
  }

  private quiet(ns: string): void {
    // No IPv6 autoconfiguration or DAD traffic on the lab's links: only the connections under test.
    run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  }
}
