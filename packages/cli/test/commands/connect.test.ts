/**
 * `vigil connect`: argument parsing in-process, then real processes: the state lines
 * it prints (alive with an RTT), reconnecting by itself to a restarted server, leaving
 * in order on SIGINT/SIGTERM, and judging the server with the detector it was given.
 */
import { usageErrorOf } from '../support/usage-error.js';
import { parseConnectArgs } from '../../src/commands/connect.js';
import { killAllCli, startCli, type CliProcess } from '../support/cli-process.js';

/** Generous bound for starting a process under tsx on a loaded machine, ms. */
const START_MS = 15_000;

afterEach(async () => {
  await killAllCli();
});

describe('parseConnectArgs', () => {
  it('takes the URL and the optional id and interval', () => {
    expect(parseConnectArgs(['tcp://127.0.0.1:7400'])).toEqual({ url: 'tcp://127.0.0.1:7400', stallGuard: true, logLevel: 'info' });
    expect(parseConnectArgs(['--id', 'n1', 'ws://localhost:1/x', '--interval', '500', '--log-level', 'debug'])).toEqual({
      url: 'ws://localhost:1/x',
      id: 'n1',
      intervalMs: 500,
      stallGuard: true,
      logLevel: 'debug',
    });
  });

  it('judges raw silence with --no-stall-guard', () => {
    expect(parseConnectArgs(['tcp://127.0.0.1:7400', '--no-stall-guard'])).toMatchObject({ stallGuard: false });
  });

  it('takes the detector flags serve takes, each only when given', () => {
    const url = 'tcp://127.0.0.1:7400';
    expect(parseConnectArgs([url, '--detector', 'phi', '--phi-suspect', '2.5', '--phi-dead', '6', '--phi-pause', '300'])).toStrictEqual({
      url,
      detector: 'phi',
      phi: { suspectThreshold: 2.5, deadThreshold: 6, acceptableHeartbeatPauseMs: 300 },
      stallGuard: true,
      logLevel: 'info',
    });
    expect(parseConnectArgs([url, '--detector', 'phi'])).toStrictEqual({ url, detector: 'phi', stallGuard: true, logLevel: 'info' });
    expect(parseConnectArgs([url, '--detector', 'fixed'])).toStrictEqual({ url, detector: 'fixed', stallGuard: true, logLevel: 'info' });
  });

  it.each([
    [[], 'URL', 'missing URL'],
    [['http://127.0.0.1:1'], 'URL', 'unsupported scheme "http"'],
    [['tcp://127.0.0.1'], 'URL', 'missing port'],
    [['not a url'], 'URL', 'not a URL'],
    [['tcp://127.0.0.1:1', 'tcp://127.0.0.1:2'], null, 'unexpected extra argument "tcp://127.0.0.1:2"'],
    [['tcp://127.0.0.1:1', '--interval', '-5'], '--interval', '--interval needs a value'],
    [['tcp://127.0.0.1:1', '--interval=0'], '--interval', '--interval must be a whole number of milliseconds'],
    [['tcp://127.0.0.1:1', '--id='], '--id', '--id must not be empty'],
    [['tcp://127.0.0.1:1', '--timeout', '5'], '--timeout', 'unknown flag --timeout'],
    [['tcp://127.0.0.1:1', '--detector', 'swim'], '--detector', '--detector must be fixed or phi, got "swim"'],
    [['tcp://127.0.0.1:1', '--phi-dead', '8'], '--detector', '--phi-* flags need --detector phi'],
    [['tcp://127.0.0.1:1', '--detector', 'fixed', '--phi-suspect', '2'], '--detector', '--phi-* flags need --detector phi'],
    [['tcp://127.0.0.1:1', '--detector', 'phi', '--phi-suspect', '0'], '--phi-suspect', '--phi-suspect must be a positive number, got "0"'],
    [['tcp://127.0.0.1:1', '--detector', 'phi', '--phi-suspect', '5', '--phi-dead', '2'], '--phi-dead', 'must be a number above suspectThreshold (5), got 2'],
    [['tcp://127.0.0.1:1', '--detector', 'phi', '--phi-pause', 'soon'], '--phi-pause', '--phi-pause must be a whole number of milliseconds'],
  ])('refuses %j, naming %s', (argv, flag, message) => {
    const error = usageErrorOf(() => parseConnectArgs(argv));
    expect(error.flag).toBe(flag);
    expect(error.message).toContain(message);
  });
});

interface StateLine {
  event: 'state';
  state: string;
  cause: string | null;
  attempt: number;
  peer: string | null;
  sessionId: string | null;
  reconnects: number;
  rttMs?: number | null;
}

async function startServe(...ports: string[]): Promise<{ serve: CliProcess; tcp: number; ws: number }> {
  const serve = startCli('serve', ...(ports.length > 0 ? ports : ['--tcp', '0', '--ws', '0']), '--interval', '200', '--timeout', '800', '--log-level', 'silent');
  const listening = await serve.waitForJson<{ event: string; tcp: number; ws: number }>((v) => v.event === 'listening', START_MS);
  return { serve, tcp: listening.tcp, ws: listening.ws };
}

describe('vigil connect (end to end)', () => {
  it.each(['tcp', 'ws'] as const)('prints connecting, then alive with its peer id and an RTT (%s)', async (transport) => {
    const server = await startServe();
    const url = transport === 'tcp' ? `tcp://127.0.0.1:${server.tcp}` : `ws://127.0.0.1:${server.ws}/`;
    const client = startCli('connect', url, '--id', `c-${transport}`);
    const alive = await client.waitForJson<StateLine>((v) => v.state === 'alive', START_MS);
    expect(alive).toEqual({
      event: 'state',
      state: 'alive',
      cause: null,
      attempt: 0,
      peer: `c-${transport}`,
      sessionId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      reconnects: 0,
      rttMs: expect.any(Number),
    });
    const lines = client.json<StateLine>();
    expect(lines[0]).toEqual({ event: 'state', state: 'connecting', cause: null, attempt: 0, peer: null, sessionId: null, reconnects: 0 });
    expect(lines[1]).toEqual(alive);
  });

  it('reconnects by itself when its server dies and comes back on the same port', async () => {
    const first = await startServe();
    const client = startCli('connect', `tcp://127.0.0.1:${first.tcp}`, '--id', 'phoenix');
    const alive = await client.waitForJson<StateLine>((v) => v.state === 'alive', START_MS);
    const mark = client.lines.length;
    first.serve.signal('SIGKILL');
    await first.serve.exited;
    await client.waitForJson<StateLine>((v) => v.state === 'dead', START_MS, mark);
    await startServe('--tcp', String(first.tcp));
    const again = await client.waitForJson<StateLine>((v) => v.state === 'alive', START_MS, mark);
    expect(again).toMatchObject({ state: 'alive', peer: 'phoenix', reconnects: 1, rttMs: expect.any(Number) });
    expect(again.sessionId).not.toBe(alive.sessionId);
    expect(client.hasExited).toBe(false);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('closes in order and exits 0 on %s', async (signal) => {
    const { serve, tcp } = await startServe();
    const client = startCli('connect', `tcp://127.0.0.1:${tcp}`, '--id', 'leaver');
    await client.waitForJson<StateLine>((v) => v.state === 'alive', START_MS);
    const mark = serve.lines.length;
    client.signal(signal);
    expect(await client.waitForExit(5000)).toEqual({ code: 0, signal: null });
    expect(client.json<StateLine>().at(-1)).toMatchObject({ state: 'closed', cause: 'local-close', peer: 'leaver' });
    // The server saw an orderly close, not a dead peer.
    await serve.waitForJson((v) => v['peer'] === 'leaver' && v['to'] === 'closed' && v['cause'] === 'peer-close', 2000, mark);
  });

  it('keeps trying while nothing listens, and still exits 0 on SIGTERM', async () => {
    // A port that was just free: bind and release one through a short-lived server.
    const { serve, tcp } = await startServe('--tcp', '0');
    serve.signal('SIGKILL');
    await serve.exited;
    const client = startCli('connect', `tcp://127.0.0.1:${tcp}`);
    await client.waitForJson<StateLine>((v) => v.state === 'connecting', START_MS);
    client.signal('SIGTERM');
    expect(await client.waitForExit(5000)).toEqual({ code: 0, signal: null });
    const states = client.json<StateLine>().map((l) => l.state);
    // Retries re-announce `connecting` with a growing attempt number.
    expect(states.filter((s, i) => s !== states[i - 1])).toEqual(['connecting', 'closed']);
  });

  it('judges the server with the phi detector when asked: dead long before the fixed watchdog even suspects', async () => {
    // Pings every 500 ms; the fixed client suspects the server after 3000 ms of silence and
    // gives up after 3500. The phi client (acceptable pause 500 ms) gives up after about 1.3 s.
    const serve = startCli('serve', '--tcp', '0', '--interval', '500', '--timeout', '3000', '--log-level', 'silent');
    const { tcp } = await serve.waitForJson<{ event: string; tcp: number }>((v) => v.event === 'listening', START_MS);
    const url = `tcp://127.0.0.1:${tcp}`;
    const phi = startCli('connect', url, '--id', 'phi', '--detector', 'phi', '--phi-pause', '500', '--log-level', 'silent');
    const fixed = startCli('connect', url, '--id', 'fixed', '--detector', 'fixed', '--log-level', 'silent');
    await Promise.all([phi, fixed].map((c) => c.waitForJson<StateLine>((v) => v.state === 'alive', START_MS)));
    // A few heartbeats, so phi has intervals to learn from.
    await new Promise((r) => setTimeout(r, 2500));
    const marks = [phi.lines.length, fixed.lines.length] as const;
    serve.signal('SIGSTOP');
    const dead = await phi.waitForJson<StateLine>((v) => v.state === 'dead', START_MS, marks[0]);
    expect(dead).toMatchObject({ state: 'dead', cause: 'heartbeat-timeout', peer: 'phi' });
    // Both clients heard the same pings; the fixed one has not even turned suspect yet.
    expect(fixed.lines.slice(marks[1])).toStrictEqual([]);
    // Nothing before: no false suspicion while the server answered.
    expect(phi.json<StateLine>().slice(0, marks[0]).map((l) => l.state)).toStrictEqual(['connecting', 'alive']);
  });

  it('exits 2 with one line naming the problem for a bad URL', async () => {
    const client = startCli('connect', 'udp://127.0.0.1:9');
    expect(await client.waitForExit(START_MS)).toEqual({ code: 2, signal: null });
    expect(client.lines).toEqual([]);
    expect(client.stderr).toBe(
      `vigil connect: URL: unsupported scheme "udp" in udp://127.0.0.1:9; use one of tcp, ws, wss (see 'vigil connect --help')\n`,
    );
  });

  it('prints its help on stdout and exits 0', async () => {
    const client = startCli('connect', '-h');
    expect(await client.waitForExit(START_MS)).toEqual({ code: 0, signal: null });
    expect(client.lines[0]).toBe('Usage: vigil connect URL [options]');
  });
});
