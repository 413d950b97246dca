/**
 * `BrowserWsTransport` and `browserTransportFactory` against a scripted WebSocket with the
 * WHATWG shape: binary messages in, text and oversize messages as typed protocol errors,
 * close codes a page may send, an immediate `destroy`, the linger, the wall-clock record
 * of the last message, and the dial (subprotocol check, failure, timeout).
 */
import type { TransportEnd } from '@vigil/core';
import { CloseCode, ErrorCode, ProtocolError, WS_SUBPROTOCOL } from '@vigil/protocol';
import {
  BrowserWsTransport,
  browserCloseCode,
  browserCloseReason,
  browserTransportFactory,
  type SocketEventMap,
  type WebSocketLike,
} from '../src/browser-transport.js';

class FakeSocket implements WebSocketLike {
  static last: FakeSocket | null = null;
  binaryType = 'blob';
  readyState = 0;
  bufferedAmount = 0;
  protocol = '';
  readonly sent: Uint8Array[] = [];
  readonly closes: [number | undefined, string | undefined][] = [];
  private readonly listeners = new Map<string, Set<(event: never) => void>>();

  constructor(
    readonly url = 'ws://fake/',
    readonly protocols?: string | string[],
  ) {
    FakeSocket.last = this;
  }
  send(data: Uint8Array): void {
    this.sent.push(data);
  }
  close(code?: number, reason?: string): void {
    this.closes.push([code, reason]);
    this.readyState = 2;
  }
  addEventListener<K extends keyof SocketEventMap>(type: K, listener: (event: SocketEventMap[K]) => void): void {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type)!.add(listener as (event: never) => void);
  }
  removeEventListener<K extends keyof SocketEventMap>(type: K, listener: (event: SocketEventMap[K]) => void): void {
    this.listeners.get(type)?.delete(listener as (event: never) => void);
  }
  emit<K extends keyof SocketEventMap>(type: K, event: SocketEventMap[K]): void {
    if (type === 'open') this.readyState = 1;
    if (type === 'close') this.readyState = 3;
    for (const l of [...(this.listeners.get(type) ?? [])]) (l as (e: SocketEventMap[K]) => void)(event);
  }
  get listening(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }
}

function openTransport(options: { maxFrameBytes?: number; lingerMs?: number; wall?: () => number } = {}) {
  const ws = new FakeSocket();
  ws.readyState = 1;
  const transport = new BrowserWsTransport(ws, {
    remote: 'example.test:443',
    ...(options.maxFrameBytes !== undefined ? { maxFrameBytes: options.maxFrameBytes } : {}),
    ...(options.lingerMs !== undefined ? { lingerMs: options.lingerMs } : {}),
    ...(options.wall ? { wallClock: options.wall } : {}),
  });
  const frames: Uint8Array[] = [];
  let error: unknown = null;
  let completed = false;
  transport.frames.subscribe({ next: (f) => frames.push(f), error: (e: unknown) => (error = e), complete: () => (completed = true) });
  let end: TransportEnd | null = null;
  void transport.closed.then((e) => (end = e));
  return { ws, transport, frames, error: () => error, completed: () => completed, end: () => end };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('BrowserWsTransport', () => {
  it('asks for ArrayBuffers, passes binary messages on as bytes and records when the last one came (wall clock)', () => {
    let wall = 1000;
    const t = openTransport({ wall: () => wall });
    expect(t.ws.binaryType).toBe('arraybuffer');
    expect(t.transport.kind).toBe('ws');
    expect(t.transport.remote).toBe('example.test:443');
    expect(t.transport.lastReceivedAt).toBe(1000);
    wall = 2500;
    t.ws.emit('message', { data: new Uint8Array([0x91, 0x06]).buffer });
    expect(t.frames).toEqual([new Uint8Array([0x91, 0x06])]);
    expect(t.transport.lastReceivedAt).toBe(2500);
  });

  it('sends while open, and refuses once closing', () => {
    const t = openTransport();
    t.ws.bufferedAmount = 42;
    expect(t.transport.bufferedBytes).toBe(42);
    expect(t.transport.send(new Uint8Array([1]))).toBe(true);
    t.transport.close(CloseCode.Normal, 'bye');
    expect(t.transport.send(new Uint8Array([2]))).toBe(false);
    expect(t.ws.sent).toEqual([new Uint8Array([1])]);
    // The fake server never answers the close: end it rather than leave the linger timer running.
    t.transport.destroy();
  });

  it('a text message errors the frame stream with UnexpectedMessage (close 1002)', () => {
    const t = openTransport();
    t.ws.emit('message', { data: 'hello' });
    const error = t.error() as ProtocolError;
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.code).toBe(ErrorCode.UnexpectedMessage);
    expect(error.closeCode).toBe(CloseCode.ProtocolError);
  });

  it('a message above maxFrameBytes errors the frame stream with FrameTooLarge (close 1009); one of exactly the limit passes', () => {
    const t = openTransport({ maxFrameBytes: 8 });
    t.ws.emit('message', { data: new ArrayBuffer(8) });
    expect(t.frames).toHaveLength(1);
    t.ws.emit('message', { data: new ArrayBuffer(9) });
    const error = t.error() as ProtocolError;
    expect(error.code).toBe(ErrorCode.FrameTooLarge);
    expect(error.closeCode).toBe(CloseCode.FrameTooLarge);
  });

  it('close sends a code a page may send, waits for the server, and ends local-close', async () => {
    const t = openTransport();
    t.transport.close(CloseCode.GoingAway, 'page unloading');
    expect(t.ws.closes).toEqual([[CloseCode.Normal, 'page unloading']]);
    await tick();
    expect(t.end()).toBeNull();
    t.ws.emit('close', { code: 1000, reason: '', wasClean: true });
    await tick();
    expect(t.end()).toEqual({ cause: 'local-close' });
    expect(t.completed()).toBe(true);
    expect(t.ws.listening).toBe(0);
  });

  it('close gives up on a silent server after lingerMs', async () => {
    jest.useFakeTimers();
    try {
      const t = openTransport({ lingerMs: 300 });
      t.transport.close(CloseCode.HeartbeatTimeout, 'x');
      expect(t.ws.closes).toEqual([[CloseCode.HeartbeatTimeout, 'x']]);
      jest.advanceTimersByTime(299);
      await Promise.resolve();
      expect(t.end()).toBeNull();
      jest.advanceTimersByTime(1);
      await Promise.resolve();
      await Promise.resolve();
      expect(t.end()).toEqual({ cause: 'local-close' });
    } finally {
      jest.useRealTimers();
    }
  });

  it('destroy ends at once with its cause, without waiting for the close handshake', async () => {
    const t = openTransport();
    t.transport.destroy('heartbeat-timeout');
    await tick();
    expect(t.end()).toEqual({ cause: 'heartbeat-timeout' });
    expect(t.ws.closes).toEqual([[undefined, undefined]]);
    // What the socket says later changes nothing.
    t.ws.emit('message', { data: new ArrayBuffer(1) });
    t.ws.emit('close', { code: 1006, reason: '', wasClean: false });
    expect(t.frames).toEqual([]);
  });

  it('a connection that drops without a close frame (1006) ends reset; a clean close by the server, closed-by-peer', async () => {
    const dropped = openTransport();
    dropped.ws.emit('close', { code: 1006, reason: '', wasClean: false });
    const closed = openTransport();
    closed.ws.emit('close', { code: 4001, reason: 'heartbeat-timeout', wasClean: true });
    await tick();
    expect(dropped.end()).toEqual({ cause: 'reset' });
    expect(closed.end()).toEqual({ cause: 'closed-by-peer' });
  });

  it('maps close codes and trims reasons to what a close frame may carry', () => {
    expect([1000, 1001, 1002, 1009, 1011, 3000, 4001, 4999, 5000].map(browserCloseCode)).toEqual([1000, 1000, 1000, 1000, 1000, 3000, 4001, 4999, 1000]);
    const reason = browserCloseReason('é'.repeat(100));
    expect(new TextEncoder().encode(reason).length).toBe(122);
    expect(browserCloseReason('short')).toBe('short');
  });
});

describe('browserTransportFactory', () => {
  const dial = (connectTimeoutMs = 1000) =>
    browserTransportFactory(FakeSocket)(new URL('ws://example.test:8080/vigil?x=1'), { maxFrameBytes: 1024, connectTimeoutMs, lingerMs: 100 });

  it('offers vigil.v1 and resolves with a transport once the server selected it', async () => {
    const opened = dial();
    const ws = FakeSocket.last!;
    expect(ws.url).toBe('ws://example.test:8080/vigil?x=1');
    expect(ws.protocols).toBe(WS_SUBPROTOCOL);
    ws.protocol = WS_SUBPROTOCOL;
    ws.emit('open', {});
    const transport = await opened;
    expect(transport).toBeInstanceOf(BrowserWsTransport);
    expect(transport.remote).toBe('example.test:8080');
    // Only the transport's own listeners remain.
    expect(ws.listening).toBe(2);
  });

  it('fails a connection whose server did not select vigil.v1', async () => {
    const opened = dial();
    const ws = FakeSocket.last!;
    ws.emit('open', {});
    await expect(opened).rejects.toThrow('server did not select the vigil.v1 subprotocol (got "")');
    expect(ws.closes).toHaveLength(1);
  });

  it('rejects when the WebSocket fails before opening', async () => {
    const opened = dial();
    FakeSocket.last!.emit('error', {});
    await expect(opened).rejects.toThrow('WebSocket to example.test:8080 failed');
  });

  it('rejects with ETIMEDOUT after connectTimeoutMs', async () => {
    jest.useFakeTimers();
    try {
      const opened = dial(500);
      const ws = FakeSocket.last!;
      jest.advanceTimersByTime(500);
      await expect(opened).rejects.toMatchObject({ message: 'connect timed out', code: 'ETIMEDOUT' });
      expect(ws.closes).toHaveLength(1);
    } finally {
      jest.useRealTimers();
    }
  });

  // Node 20 has no global WebSocket; newer Node does, and then there is nothing to test here.
  (('WebSocket' in globalThis) ? it.skip : it)('rejects where there is no WebSocket at all', async () => {
    await expect(browserTransportFactory(undefined)(new URL('ws://x:1/'), { maxFrameBytes: 1, connectTimeoutMs: 1, lingerMs: 1 })).rejects.toThrow('no WebSocket in this environment');
  });
});
