/**
 * A scripted stand-in for a Vigil server, over real loopback TCP or WebSocket, that
 * speaks just enough protocol (via @vigil/protocol) for client tests: it records every
 * message each connection sends and lets the test answer, go silent or refuse.
 * Also the small teardown, polling and event-wait helpers the client tests share.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { monotonicNow } from '@vigil/core';
import { FrameDecoder, WS_SUBPROTOCOL, decodeMessage, encodeFrame, encodeMessage, type Message } from '@vigil/protocol';
import { filter, firstValueFrom, throwError, timeout, type Observable } from 'rxjs';
import { WebSocketServer, type WebSocket } from 'ws';

/** Teardown steps, run last-added first; every step runs even when an earlier one fails. */
export class Teardown {
  private readonly steps: (() => unknown)[] = [];

  add(step: () => unknown): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (let step = this.steps.pop(); step !== undefined; step = this.steps.pop()) {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  }
}

/** Polls `condition` every 5 ms until it holds; fails after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = monotonicNow() + timeoutMs;
  while (!condition()) {
    if (monotonicNow() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The first value of `source` matching `predicate`; call before triggering it. */
export function firstMatch<T>(source: Observable<T>, predicate: (value: T) => boolean, what: string, timeoutMs = 5000): Promise<T> {
  return firstValueFrom(
    source.pipe(
      filter(predicate),
      timeout({ first: timeoutMs, with: () => throwError(() => new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)) }),
    ),
  );
}

export type Kind = 'tcp' | 'ws';

/** One accepted connection: what the client sent, and how to answer it. */
export class FakeConnection {
  readonly received: Message[] = [];
  /** What the fake sent, and the monotonic time of each `send`, in order. */
  readonly sent: Message[] = [];
  readonly sentAt: number[] = [];
  /** Monotonic time the connection was accepted and ended. */
  readonly acceptedAt = monotonicNow();
  closedAt: number | null = null;

  constructor(
    private readonly write: (payload: Uint8Array) => void,
    private readonly end: () => void,
  ) {}

  send(message: Message): void {
    this.write(encodeMessage(message));
    this.sent.push(message);
    this.sentAt.push(monotonicNow());
  }

  /** Drops the connection without a word. */
  destroy(): void {
    this.end();
  }
}

/** Called for each message a connection receives; may answer through `conn`. */
export type Script = (conn: FakeConnection, message: Message) => void;

export class FakeServer {
  readonly connections: FakeConnection[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly wsClients = new Set<WebSocket>();

  private constructor(
    readonly kind: Kind,
    readonly port: number,
    private readonly server: Server | WebSocketServer,
  ) {}

  get url(): string {
    return `${this.kind}://127.0.0.1:${this.port}`;
  }

  static async start(kind: Kind, script: Script, teardown: Teardown): Promise<FakeServer> {
    let fake: FakeServer;
    if (kind === 'tcp') {
      const server = createServer((socket) => {
        fake.sockets.add(socket);
        const decoder = new FrameDecoder();
        const conn = new FakeConnection(
          (payload) => socket.write(encodeFrame(payload)),
          () => socket.destroy(),
        );
        fake.connections.push(conn);
        socket.on('data', (chunk: Buffer) => {
          for (const payload of decoder.push(chunk)) {
            const message = decodeMessage(payload);
            conn.received.push(message);
            script(conn, message);
          }
        });
        socket.on('error', () => {});
        socket.on('close', () => {
          conn.closedAt = monotonicNow();
          fake.sockets.delete(socket);
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      fake = new FakeServer(kind, (server.address() as AddressInfo).port, server);
    } else {
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: (p) => (p.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : false) });
      await new Promise<void>((resolve) => wss.once('listening', resolve));
      wss.on('connection', (ws) => {
        fake.wsClients.add(ws);
        const conn = new FakeConnection(
          (payload) => ws.send(payload, { binary: true }),
          () => ws.terminate(),
        );
        fake.connections.push(conn);
        ws.on('message', (data: Buffer) => {
          const message = decodeMessage(data);
          conn.received.push(message);
          script(conn, message);
        });
        ws.on('error', () => {});
        ws.on('close', () => {
          conn.closedAt = monotonicNow();
          fake.wsClients.delete(ws);
        });
      });
      fake = new FakeServer(kind, (wss.address() as AddressInfo).port, wss);
    }
    teardown.add(() => fake.close());
    return fake;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    for (const ws of this.wsClients) ws.terminate();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
