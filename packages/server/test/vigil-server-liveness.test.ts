/**
 * Failure detection of real peers in other processes, over TCP and WebSocket: a
 * frozen client (SIGSTOP; its kernel still ACKs, so only the application heartbeat
 * can tell) must be declared dead by the heartbeat timeout, neither early nor much
 * late; a killed client (SIGKILL; its kernel closes the socket) must be dead at once.
 */
import { isTerminal, monotonicNow, type StateChange } from '@vigil/core';
import { VigilServer } from '@vigil/server';
import { ChildClient, Teardown, firstMatch, until } from './support/loopback.js';

type Kind = 'tcp' | 'ws';

const teardown = new Teardown();
afterEach(() => teardown.run());

async function startServer(kind: Kind, heartbeat: { intervalMs: number; timeoutMs: number }, lingerMs?: number): Promise<{ server: VigilServer; url: string }> {
  const server = new VigilServer({ [kind]: { port: 0 }, heartbeat, ...(lingerMs === undefined ? {} : { lingerMs }) });
  teardown.add(() => server.close());
  const port = (await server.listen())[kind]!;
  return { server, url: `${kind}://127.0.0.1:${port}` };
}

describe.each<Kind>(['tcp', 'ws'])('peer liveness over %s', (kind) => {
  test('a frozen peer (SIGSTOP) is declared dead by the heartbeat timeout, not early and not much late', async () => {
    const interval = 100;
    const timeout = 400;
    const { server, url } = await startServer(kind, { intervalMs: interval, timeoutMs: timeout });
    const id = `frozen-${kind}`;
    const child = await ChildClient.start(url, id, teardown);
    expect(child.session.peerId).toBe(id);
    await until(() => server.peers.get(id)?.connection.monitor.rtt.count === 2, 'two pongs from the child', 3000);

    const after: StateChange[] = [];
    const died = firstMatch(server.changes$, (c) => c.peerId === id && isTerminal(c.to), `${id} to die`, 3000);
    // Freeze the child right as a pong arrives: the silence then starts at the SIGSTOP.
    const stoppedAt = await new Promise<number>((resolve) => {
      const sub = server.rttSamples$.subscribe(() => {
        sub.unsubscribe();
        resolve(child.signal('SIGSTOP'));
      });
    });
    server.changes$.subscribe((c) => {
      if (c.peerId === id) after.push(c);
    });
    const death = await died;
    const detectionMs = death.at - stoppedAt;
    console.log(
      `[${kind}] frozen peer declared dead ${detectionMs.toFixed(1)} ms after SIGSTOP ` +
        `(interval ${interval} ms, timeout ${timeout} ms, silence at the verdict ${death.silenceMs.toFixed(1)} ms)`,
    );

    expect(death).toMatchObject({ to: 'dead', cause: 'heartbeat-timeout' });
    expect(after.map((c) => [c.from, c.to, c.cause])).toEqual([
      ['alive', 'suspect', 'heartbeat-timeout'],
      ['suspect', 'dead', 'heartbeat-timeout'],
    ]);
    expect(death.silenceMs).toBeGreaterThanOrEqual(timeout);
    expect(detectionMs).toBeGreaterThanOrEqual(timeout - interval * 1.1);
    expect(detectionMs).toBeLessThanOrEqual(timeout + 250);
    expect(server.peers.has(id)).toBe(false);
    expect(server.snapshot().find((p) => p.id === id)).toMatchObject({ state: 'dead', cause: 'heartbeat-timeout' });
  });

  test('a killed peer (SIGKILL) is declared dead at once, long before the heartbeat timeout', async () => {
    const { server, url } = await startServer(kind, { intervalMs: 500, timeoutMs: 2000 });
    const id = `killed-${kind}`;
    const child = await ChildClient.start(url, id, teardown);
    await until(() => server.peers.get(id)?.state === 'alive', 'the child alive at the server');

    const died = firstMatch(server.changes$, (c) => c.peerId === id && isTerminal(c.to), `${id} to die`, 3000);
    const killedAt = child.signal('SIGKILL');
    const death = await died;
    const detectionMs = death.at - killedAt;
    console.log(`[${kind}] killed peer declared dead ${detectionMs.toFixed(1)} ms after SIGKILL (cause ${String(death.cause)}; timeout 2000 ms)`);

    // The cause says the transport, not the heartbeat, ended it; the heartbeat could not before 2000 − 550 ms.
    // The bound leaves room for the dying process's own teardown on a loaded machine (seen up to 250 ms).
    expect(death.to).toBe('dead');
    expect(['closed-by-peer', 'reset']).toContain(death.cause);
    expect(detectionMs).toBeLessThan(500);
  });

  test('server.close() does not hang on a frozen peer: it gives up on it after lingerMs', async () => {
    const lingerMs = 300;
    const { server, url } = await startServer(kind, { intervalMs: 100, timeoutMs: 400 }, lingerMs);
    const id = `stuck-${kind}`;
    const child = await ChildClient.start(url, id, teardown);
    await until(() => server.peers.get(id)?.state === 'alive', 'the child alive at the server');
    const closed = firstMatch(server.changes$, (c) => c.peerId === id && isTerminal(c.to), `${id} to end`);
    child.signal('SIGSTOP');

    const started = monotonicNow();
    await server.close();
    const tookMs = monotonicNow() - started;
    console.log(`[${kind}] server.close() with a frozen peer took ${tookMs.toFixed(1)} ms (lingerMs ${lingerMs})`);
    expect(await closed).toMatchObject({ to: 'closed', cause: 'local-close' });
    // The linger is a Node timer, which runs on the event loop's cached clock: it may fire a few ms early.
    expect(tookMs).toBeGreaterThanOrEqual(lingerMs - 25);
    expect(tookMs).toBeLessThan(lingerMs + 250);
  });
});
