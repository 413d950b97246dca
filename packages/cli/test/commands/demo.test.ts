/**
 * `vigil demo` smoke tests, as a real process with stdout not a terminal (plain
 * lines): it serves the HTTP API it announces, its six clients connect, and it
 * leaves no child process behind, whether it stops by itself, on SIGTERM, or is
 * SIGKILLed (the children notice their parent's IPC channel closing).
 */
import type { PeerInfo } from '@vigil/server';
import { parseDemoArgs } from '../../src/commands/demo.js';
import { DEMO_PEERS } from '../../src/demo/scenario.js';
import { httpGet, killAllCli, pollUntil, processRunning, startCli, type CliProcess } from '../support/cli-process.js';

/** Generous bound for the demo and its six tsx children to start on a loaded machine, ms. */
const START_MS = 20_000;
const CHILD_MARKER = 'demo/client.ts';

const spawnedPids: number[] = [];

afterEach(async () => {
  await killAllCli();
  for (const pid of spawnedPids.splice(0)) if (processRunning(pid, CHILD_MARKER)) process.kill(pid, 'SIGKILL');
});

describe('parseDemoArgs', () => {
  it('runs until a signal on the default ports unless told otherwise', () => {
    expect(parseDemoArgs([])).toEqual({ durationMs: null, tcp: null, ws: null, http: null, logLevel: 'error' });
    expect(parseDemoArgs(['--duration', '1.5', '--http', '0'])).toEqual({ durationMs: 1500, tcp: null, ws: null, http: 0, logLevel: 'error' });
  });

  it.each([['0'], ['-1'], ['soon'], ['1e3']])('refuses --duration %s', (value) => {
    expect(() => parseDemoArgs([`--duration=${value}`])).toThrow('--duration must be a positive number of seconds');
  });
});

/** Pids from the `spawned <id> (<transport>) pid <n>` lines, remembered for teardown. */
function childPids(demo: CliProcess): number[] {
  const pids = demo.lines.flatMap((l) => {
    const m = /\bspawned (\S+) \((tcp|ws)\) pid (\d+)$/.exec(l);
    return m ? [Number(m[3])] : [];
  });
  for (const pid of pids) if (!spawnedPids.includes(pid)) spawnedPids.push(pid);
  return pids;
}

/** Waits for the URL line and for the six `spawned` lines. */
async function waitForStart(demo: CliProcess): Promise<{ apiUrl: string; pids: number[] }> {
  const first = await demo.waitForLine(() => true, START_MS);
  // The printed URL is the dashboard; the JSON API sits beside it.
  const m = /^vigil demo: (http:\/\/127\.0\.0\.1:\d+)\/$/.exec(first);
  expect(m).not.toBeNull();
  await demo.waitForLine(() => childPids(demo).length === DEMO_PEERS.length, START_MS);
  return { apiUrl: `${m?.[1] ?? ''}/api/peers`, pids: childPids(demo) };
}

/** Also waits for every demo client's `connecting -> alive` line. */
async function waitForCast(demo: CliProcess): Promise<{ apiUrl: string; pids: number[] }> {
  const started = await waitForStart(demo);
  for (const peer of DEMO_PEERS) await demo.waitForLine((l) => l.endsWith(`  ${peer.id}: connecting -> alive`), START_MS);
  return started;
}

describe('vigil demo (smoke)', () => {
  it('runs for --duration, serves the URL it prints, exits 0 and leaves no child behind', async () => {
    const demo = startCli('demo', '--duration', '6');
    const { apiUrl, pids } = await waitForStart(demo);
    for (const pid of pids) expect(processRunning(pid, CHILD_MARKER)).toBe(true);
    const res = await httpGet(apiUrl);
    expect(res.status).toBe(200);
    expect(Array.isArray(JSON.parse(res.body))).toBe(true);
    const page = await httpGet(apiUrl.replace(/api\/peers$/, ''));
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>');

    expect(await demo.waitForExit(START_MS)).toEqual({ code: 0, signal: null });
    expect(demo.lines.at(-1)).toMatch(/^ +\+\d+\.\ds {2}stopped$/);
    // The demo waits for its children's exits, so none may be left at all.
    expect(pids.filter((pid) => processRunning(pid, CHILD_MARKER))).toEqual([]);
  });

  it('connects all six clients over both transports, stops them in order and exits 0 on SIGTERM', async () => {
    const demo = startCli('demo', '--tcp', '0', '--ws', '0', '--http', '0');
    const { apiUrl, pids } = await waitForCast(demo);
    const listed = JSON.parse((await httpGet(apiUrl)).body) as PeerInfo[];
    expect(listed.map((p) => `${p.id}/${p.transport}`).sort()).toEqual(DEMO_PEERS.map((p) => `${p.id}/${p.transport}`).sort());

    demo.signal('SIGTERM');
    expect(await demo.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    expect(pids.filter((pid) => processRunning(pid, CHILD_MARKER))).toEqual([]);
    // Each client said goodbye (a Vigil close) instead of vanishing; on a slow machine the
    // schedule may already have frozen or killed one, which then cannot.
    const untouched = DEMO_PEERS.filter((peer) => !demo.lines.some((l) => l.includes('schedule:') && l.includes(` ${peer.id}`)));
    const closedInOrder = DEMO_PEERS.filter((peer) => demo.lines.some((l) => l.includes(`  ${peer.id}: alive -> closed (peer-close,`)));
    expect(closedInOrder).toEqual(expect.arrayContaining(untouched));
  });

  it('leaves no child behind even when SIGKILLed', async () => {
    const demo = startCli('demo', '--tcp', '0', '--ws', '0', '--http', '0');
    const { pids } = await waitForCast(demo);
    demo.signal('SIGKILL');
    await demo.exited;
    await pollUntil(() => (pids.some((pid) => processRunning(pid, CHILD_MARKER)) ? undefined : true), 5000);
  });
});
