/**
 * Parsing `ss -tnoiHO`: its odd timer notation, one socket per line, and the phrase
 * the tables show for what the kernel was doing after the failure.
 */
import { parseSs, parseSsTimer, summarizeView, type ViewSample } from '../src/kernel-view.js';

describe('parseSsTimer', () => {
  it.each([
    ['1.234ms', 1234],
    ['999ms', 999],
    ['2sec', 2000],
    ['12sec', 12_000],
    ['1min4sec', 64_000],
    ['1min', 60_000],
    ['120min', 7_200_000],
    ['', 0],
  ])('reads %j as %d ms', (text, ms) => {
    expect(parseSsTimer(text)).toBe(ms);
  });

  it.each(['1.', 'soon', '1h'])('refuses %j', (text) => {
    expect(parseSsTimer(text)).toBeNull();
  });
});

// A line as iproute2 6.1 prints it for a socket with keepalive armed (captured on loopback).
const KEEPALIVE_LINE =
  'ESTAB 0      0      127.0.0.1:35412 127.0.0.1:34611 timer:(keepalive,1min4sec,0) ts sack bbr wscale:10,10 rto:200 rtt:0.026/0.013 mss:32741 pmtu:65535 rcvmss:536 advmss:65483 cwnd:10 bytes_acked:1 segs_out:2 segs_in:1 send 100741538462bps lastsnd:304 lastrcv:304 lastack:304 delivered:1 app_limited rcv_space:65495 minrtt:0.026 snd_wnd:65483';
const RETRANS_LINE =
  'ESTAB 0      816    198.18.0.1:7104 198.18.0.2:41822 timer:(on,1.268ms,3) ts sack cubic wscale:7,7 rto:1632 backoff:3 rtt:0.05/0.025 mss:1448 cwnd:1 unacked:1 retrans:1/4 lost:1 lastsnd:1300 lastrcv:2100 lastack:2100';

describe('parseSs', () => {
  it('reads state, ports, queues, timer, rto, backoff and unacked', () => {
    expect(parseSs(`${KEEPALIVE_LINE}\n${RETRANS_LINE}\n`)).toStrictEqual([
      { state: 'ESTAB', localPort: 35412, peer: '127.0.0.1:34611', recvQ: 0, sendQ: 0, timer: 'keepalive', timerMs: 64_000, timerCount: 0, rtoMs: 200, backoff: null, unacked: null },
      { state: 'ESTAB', localPort: 7104, peer: '198.18.0.2:41822', recvQ: 0, sendQ: 816, timer: 'on', timerMs: 1268, timerCount: 3, rtoMs: 1632, backoff: 3, unacked: 1 },
    ]);
  });

  it('skips headers and blank or foreign lines', () => {
    expect(parseSs('State Recv-Q Send-Q Local Address:Port Peer Address:Port\n\nnonsense\n')).toStrictEqual([]);
  });

  it('reads a socket without a timer', () => {
    expect(parseSs('ESTAB 0 0 198.18.0.1:7100 198.18.0.2:5000 cubic rto:204')[0]).toMatchObject({ timer: null, timerMs: null, timerCount: null, rtoMs: 204 });
  });
});

function sample(atMs: number, timer: string | null, count: number | null, rtoMs = 204): ViewSample {
  return { detector: 'd', atMs, state: 'ESTAB', localPort: 7100, peer: 'x', recvQ: 0, sendQ: 0, timer, timerMs: 0, timerCount: count, rtoMs, backoff: null, unacked: null };
}

describe('summarizeView', () => {
  it('gives the last timer armed after the failure, its highest count in that streak, and the last RTO', () => {
    const samples = [sample(-20, 'keepalive', 2), sample(5, 'keepalive', 0), sample(300, 'on', 1, 408), sample(900, 'on', 3, 1632), sample(1200, 'on', 2, 816)];
    expect(summarizeView(samples)).toBe('on ×3 (rto 816 ms)');
    expect(summarizeView([sample(5, 'on', 4, 3264), sample(700, 'persist', 0), sample(900, 'persist', 1)])).toBe('persist ×1');
  });

  it('stops at the detection', () => {
    expect(summarizeView([sample(100, 'keepalive', 2), sample(3100, 'timewait', 0)], 3000)).toBe('keepalive ×2');
  });

  it('says when no timer was armed, or nothing was sampled', () => {
    expect(summarizeView([sample(10, null, null)])).toBe('no timer');
    expect(summarizeView([sample(-10, 'keepalive', 0)])).toBe('—');
  });
});
