/**
 * Test helper: reads a Server-Sent Events response over a real socket and waits for
 * events with a bounded timeout (no sleeps).
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { createGunzip } from 'node:zlib';

export interface SseEvent {
  readonly event: string;
  readonly data: unknown;
}

export interface SseStream {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Every event so far, in order. */
  readonly events: readonly SseEvent[];
  /** Resolves with the first event at index `from` or later that matches; rejects after `timeoutMs`. */
  next(predicate: (e: SseEvent) => boolean, timeoutMs?: number, from?: number): Promise<SseEvent>;
  /** Resolves when the server ends the response. */
  readonly ended: Promise<void>;
  close(): void;
}

export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false }, (res) => {
      const events: SseEvent[] = [];
      const waiters = new Set<() => void>();
      let buffer = '';
      const body = res.headers['content-encoding'] === 'gzip' ? res.pipe(createGunzip()) : res;
      body.setEncoding('utf8');
      body.on('data', (chunk: string) => {
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length > 0) events.push({ event, data: JSON.parse(data.join('\n')) });
          end = buffer.indexOf('\n\n');
        }
        for (const w of waiters) w();
      });
      const ended = new Promise<void>((done) => {
        res.on('close', () => {
          done();
          for (const w of waiters) w();
        });
      });
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        ended,
        next(predicate, timeoutMs = 5000, from = 0) {
          return new Promise<SseEvent>((ok, fail) => {
            const check = (): boolean => {
              const hit = events.slice(from).find(predicate);
              if (hit === undefined) return false;
              waiters.delete(check);
              clearTimeout(timer);
              ok(hit);
              return true;
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`no matching event within ${timeoutMs} ms (have: ${events.map((e) => e.event).join(', ')})`));
            }, timeoutMs);
            waiters.add(check);
            check();
          });
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}
