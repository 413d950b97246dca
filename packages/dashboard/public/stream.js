/**
 * The live stream client: Server-Sent Events read with `fetch` (so the token goes in
 * an `Authorization` header, a 401 is visible, and a silent stream can be detected),
 * reconnecting with backoff after any end. The server sends the full state first on
 * every connection, so a reconnect needs nothing from the page.
 */

const MIN_DELAY_MS = 250;
const MAX_DELAY_MS = 4000;
/** The server sends at least one message a second; this much silence means the stream is dead. */
const SILENCE_LIMIT_MS = 5000;

/**
 * @param {URL} url the stream endpoint
 * @param {{ token: string | null, onMessage: (event: string, data: any) => void, onStatus: (s: 'connecting'|'live'|'reconnecting'|'unauthorized') => void }} handlers
 * @returns {() => void} stops the stream for good
 */
export function openStream(url, { token, onMessage, onStatus }) {
  let stopped = false;
  let controller = null;
  let delay = MIN_DELAY_MS;
  let lastMessageAt = performance.now();
  let everLive = false;

  const watchdog = setInterval(() => {
    if (controller && performance.now() - lastMessageAt > SILENCE_LIMIT_MS) controller.abort();
  }, 1000);

  function dispatch(block) {
    let event = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length === 0) return;
    lastMessageAt = performance.now();
    if (event === 'full') {
      everLive = true;
      delay = MIN_DELAY_MS;
      onStatus('live');
    }
    onMessage(event, JSON.parse(data.join('\n')));
  }

  async function once() {
    controller = new AbortController();
    lastMessageAt = performance.now();
    const headers = { accept: 'text/event-stream' };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(url, { headers, cache: 'no-store', signal: controller.signal });
    if (res.status === 401) return 'unauthorized';
    if (!res.ok || !res.body) return 'failed';
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let scanFrom = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return 'ended';
      buffer += value;
      // Search only the new text (plus one char for a split "\n\n"): full states can be megabytes.
      let end = buffer.indexOf('\n\n', Math.max(0, scanFrom - 1));
      while (end >= 0) {
        dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
      }
      scanFrom = buffer.length;
    }
  }

  (async () => {
    while (!stopped) {
      onStatus(everLive ? 'reconnecting' : 'connecting');
      let outcome;
      try {
        outcome = await once();
      } catch {
        outcome = 'failed';
      }
      if (stopped) return;
      if (outcome === 'unauthorized') {
        onStatus('unauthorized');
        clearInterval(watchdog);
        return;
      }
      onStatus(everLive ? 'reconnecting' : 'connecting');
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random() / 2)));
      delay = Math.min(MAX_DELAY_MS, delay * 2);
    }
  })();

  return () => {
    stopped = true;
    clearInterval(watchdog);
    controller?.abort();
  };
}
