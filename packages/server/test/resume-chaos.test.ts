/**
 * Chaos for session resume: a stream of numbered messages each way, over each transport,
 * while the connection is cut at random every ~100 ms: the client's or the server's
 * socket destroyed, or one side frozen (reading and writing paused in-process) so that
 * the 50/200 ms heartbeat has to notice. Every message must arrive exactly once, in
 * order, in the same session. Quick form here (20,000 each way per transport); the full
 * 100,000 form runs with `pnpm test:soak` (VIGIL_SOAK=1). The test prints its counts.
 */
import { VigilClient, nodeTransportFactory } from '@vigil/client';
import type { Transport } from '@vigil/core';
import { VigilServer, type Peer } from '@vigil/server';
import { TcpTransport, WsTransport } from '@vigil/transport';
import type { Socket } from 'node:net';
import { loopbackHooks, until } from './support/loopback.js';

type Kind = 'tcp' | 'ws';
const SOAK = process.env['VIGIL_SOAK'] === '1';
const MESSAGES = SOAK ? 100_000 : 20_000;
/** Messages each side sends per 1 ms pump tick: about 4-5k/s, so the run spans many cuts. */
const BATCH = 5;
/** The pumps hold back while this many messages are unacknowledged. */
const HIGH_WATER = 6000;
const CUTS = ['client-destroy', 'server-destroy', 'client-freeze', 'server-freeze'] as const;
type Cut = (typeof CUTS)[number];

const { teardown, unhandled } = loopbackHooks();

/** Checks a stream of numbers arrives as 1, 2, 3, ... and counts what does not. */
class Receiver {
  next = 1;
  delivered = 0;
  duplicates = 0;
  lost = 0;

  receive(n: number): void {
    if (n === this.next) {
      this.next++;
      this.delivered++;
    } else if (n < this.next) {
      this.duplicates++;
    } else {
      this.lost += n - this.next;
      this.next = n + 1;
      this.delivered++;
    }
  }
}

/** Freezes one transport in-process: no more reads, writes held in memory (a stopped peer, as seen from the wire). */
function freeze(transport: Transport): void {
  const socket: Socket | undefined =
    transport instanceof TcpTransport ? transport.socket : transport instanceof WsTransport ? (transport.ws as unknown as { _socket?: Socket })._socket : undefined;
  if (socket === undefined) throw new Error('cannot freeze this transport');
  socket.pause();
  socket.cork();
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe.each<Kind>(['tcp', 'ws'])('resume under chaos over %s', (kind) => {
  test(
    `${MESSAGES} messages each way while the connection is cut every ~100 ms: each delivered exactly once, in order`,
    async () => {
      const server = new VigilServer<number, number>({
        [kind]: { port: 0 },
        heartbeat: { intervalMs: 50, timeoutMs: 200, handshakeTimeoutMs: 2000 },
        resume: { windowMs: 10_000, maxMessages: 16_384, maxBytes: 8 * 1024 * 1024 },
        connectionRate: false,
        lingerMs: 200,
      });
      teardown.add(() => server.close());
      const port = (await server.listen())[kind]!;
      const clientTransports: Transport[] = [];
      const client = new VigilClient<number, number>(`${kind}://127.0.0.1:${port}`, {
        id: 'chaos',
        intervalMs: 50,
        reconnect: { initialMs: 5, maxMs: 20 },
        lingerMs: 200,
        resume: { maxMessages: 16_384, maxBytes: 8 * 1024 * 1024 },
        transportFactory: async (url, options) => {
          const t = await nodeTransportFactory(url, options);
          clientTransports.push(t);
          return t;
        },
      });
      teardown.add(() => client.close());

      const atServer = new Receiver();
      const atClient = new Receiver();
      const peers = new Set<Peer<number>>();
      let lostSessions = 0;
      const deathCauses = new Map<string, number>();
      const countDeath = (side: string, cause: string | null): void => {
        const key = `${side}:${cause ?? '?'}`;
        deathCauses.set(key, (deathCauses.get(key) ?? 0) + 1);
      };
      server.connections$.subscribe((p) => peers.add(p));
      server.messages$.subscribe(({ message }) => atServer.receive(message));
      server.changes$.subscribe((c) => c.to === 'dead' && countDeath('server', c.cause));
      server.sessionChanges$.subscribe((c) => c.to === 'ended' && lostSessions++);
      client.messages$.subscribe((m) => atClient.receive(m));
      client.changes$.subscribe((c) => c.to === 'dead' && countDeath('client', c.cause));
      client.sessionLost$.subscribe(() => lostSessions++);

      await client.connect();
      const peer = server.peers.get('chaos')!;
      expect(peer).toBeDefined();
      const sessionId = client.sessionId;

      // The pumps: each side sends 1..MESSAGES, a few per ms, holding back while much is unacknowledged.
      let toServer = 1;
      let toClient = 1;
      const pump = setInterval(() => {
        for (let i = 0; i < BATCH && toServer <= MESSAGES && client.backlog < HIGH_WATER; i++) {
          if (!client.send(toServer)) break;
          toServer++;
        }
        for (let i = 0; i < BATCH && toClient <= MESSAGES && peer.backlog < HIGH_WATER; i++) {
          if (!peer.send(toClient)) break;
          toClient++;
        }
      }, 1);
      teardown.add(() => clearInterval(pump));

      // The cutter: every 50-150 ms of a healthy connection, one cut at random; then wait for the resume.
      const cuts = new Map<Cut, number>(CUTS.map((c) => [c, 0]));
      let done = false;
      const cutter = (async () => {
        while (!done) {
          await sleep(50 + Math.random() * 100);
          if (done) break;
          await until(() => done || (client.status.state === 'alive' && peer.sessionState === 'attached' && peer.connection.monitor.state === 'alive'), 'a healthy connection to cut', 15_000);
          if (done) break;
          const cut = CUTS[Math.floor(Math.random() * CUTS.length)]!;
          const resumesBefore = client.resumes;
          const clientSide = clientTransports.at(-1)!;
          const serverSide = peer.connection.transport;
          switch (cut) {
            case 'client-destroy':
              clientSide.destroy('reset');
              break;
            case 'server-destroy':
              serverSide.destroy('reset');
              break;
            case 'client-freeze':
              freeze(clientSide);
              break;
            case 'server-freeze':
              freeze(serverSide);
              break;
          }
          cuts.set(cut, cuts.get(cut)! + 1);
          await until(() => done || client.resumes > resumesBefore, `the session resumed after ${cut}`, 15_000);
        }
      })();
      teardown.add(() => {
        done = true;
        return cutter;
      });

      const startedAt = performance.now();
      await until(() => atServer.delivered >= MESSAGES && atClient.delivered >= MESSAGES, 'every message delivered both ways', SOAK ? 600_000 : 100_000);
      done = true;
      await cutter;
      const seconds = (performance.now() - startedAt) / 1000;
      // Let anything stray (a duplicate from a late replay) arrive before counting.
      await sleep(300);

      const summary = {
        transport: kind,
        messagesEachWay: MESSAGES,
        toServer: { delivered: atServer.delivered, lost: atServer.lost, duplicates: atServer.duplicates },
        toClient: { delivered: atClient.delivered, lost: atClient.lost, duplicates: atClient.duplicates },
        cuts: Object.fromEntries(cuts),
        resumes: client.resumes,
        deaths: Object.fromEntries([...deathCauses].sort()),
        seconds: Math.round(seconds * 10) / 10,
      };
      console.log(`[${kind}] resume chaos: ${JSON.stringify(summary)}`);

      expect(atServer).toMatchObject({ delivered: MESSAGES, lost: 0, duplicates: 0, next: MESSAGES + 1 });
      expect(atClient).toMatchObject({ delivered: MESSAGES, lost: 0, duplicates: 0, next: MESSAGES + 1 });
      // One session throughout: the same Peer, the same session id, never lost.
      expect([...peers]).toEqual([peer]);
      expect(client.sessionId).toBe(sessionId);
      expect(lostSessions).toBe(0);
      expect(peer.sessionState).toBe('attached');
      // Cuts of every kind happened, and the frozen ones were caught by the heartbeat.
      const totalCuts = [...cuts.values()].reduce((a, b) => a + b, 0);
      expect(totalCuts).toBeGreaterThanOrEqual(SOAK ? 50 : 8);
      expect(client.resumes).toBeGreaterThanOrEqual(totalCuts);
      if (cuts.get('client-freeze')! + cuts.get('server-freeze')! > 0) {
        expect((deathCauses.get('server:heartbeat-timeout') ?? 0) + (deathCauses.get('client:heartbeat-timeout') ?? 0)).toBeGreaterThan(0);
      }
      expect(unhandled).toEqual([]);
    },
    SOAK ? 900_000 : 120_000,
  );
});
