/**
 * The /proc/net/tcp parser, fed fixture lines: real lines captured from a Linux 6.x
 * loopback (listening, established with a keepalive timer and unread bytes, TIME_WAIT,
 * IPv4-mapped IPv6) plus a hand-made retransmitting socket in the kernel's format.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  findConnection,
  formatIpv6,
  indexSockets,
  parseHostPort,
  parseProcNetTcp,
  parseProcNetTcpLine,
  type TcpSocketEntry,
} from '../src/index.js';

const tcp = readFileSync(join(__dirname, 'fixtures/proc-net-tcp.txt'), 'latin1');
const tcp6 = readFileSync(join(__dirname, 'fixtures/proc-net-tcp6.txt'), 'latin1');
const lines4 = tcp.split('\n');
const lines6 = tcp6.split('\n');

function line(lines: string[], slot: string): string {
  const found = lines.find((l) => l.trimStart().startsWith(`${slot}:`));
  if (found === undefined) throw new Error(`no slot ${slot} in fixture`);
  return found;
}

describe('parseProcNetTcpLine', () => {
  it('skips the header line', () => {
    expect(parseProcNetTcpLine(lines4[0]!)).toBeNull();
    expect(parseProcNetTcpLine(lines6[0]!)).toBeNull();
  });

  it('parses a listening IPv4 socket', () => {
    expect(parseProcNetTcpLine(line(lines4, '2'))).toEqual<TcpSocketEntry>({
      local: { address: '127.0.0.1', port: 43843 },
      remote: { address: '0.0.0.0', port: 0 },
      state: 'LISTEN',
      txQueue: 0,
      rxQueue: 0,
      timer: 'off',
      timerMs: 0,
      retransmits: 0,
      probes: 0,
      uid: 0,
      inode: 51364,
    });
  });

  it('parses an established socket with a keepalive timer and unread bytes', () => {
    expect(parseProcNetTcpLine(line(lines4, '7'))).toEqual<TcpSocketEntry>({
      local: { address: '127.0.0.1', port: 38554 },
      remote: { address: '127.0.0.1', port: 43843 },
      state: 'ESTABLISHED',
      txQueue: 0,
      rxQueue: 26,
      timer: 'keepalive',
      timerMs: 29_790,
      retransmits: 0,
      probes: 0,
      uid: 0,
      inode: 51367,
    });
  });

  it('parses the shorter TIME_WAIT line', () => {
    expect(parseProcNetTcpLine(line(lines4, '8'))).toEqual<TcpSocketEntry>({
      local: { address: '127.0.0.1', port: 38556 },
      remote: { address: '127.0.0.1', port: 43843 },
      state: 'TIME_WAIT',
      txQueue: 0,
      rxQueue: 0,
      timer: 'time-wait',
      timerMs: 59_800,
      retransmits: 0,
      probes: 0,
      uid: 0,
      inode: 0,
    });
  });

  it('parses a retransmitting socket: unacknowledged bytes, retransmit timer, retransmits and probes', () => {
    expect(parseProcNetTcpLine(line(lines4, '158'))).toEqual<TcpSocketEntry>({
      local: { address: '10.0.2.15', port: 50000 },
      remote: { address: '10.0.2.11', port: 54692 },
      state: 'ESTABLISHED',
      txQueue: 533,
      rxQueue: 0,
      timer: 'retransmit',
      timerMs: 450,
      retransmits: 3,
      probes: 2,
      uid: 1000,
      inode: 51390,
    });
  });

  it('prints IPv4-mapped IPv6 as Node does', () => {
    const e = parseProcNetTcpLine(line(lines6, '2'));
    expect(e?.local).toEqual({ address: '::ffff:127.0.0.1', port: 41745 });
    expect(e?.remote).toEqual({ address: '::ffff:127.0.0.1', port: 54010 });
  });

  it('parses IPv6 loopback and global addresses in RFC 5952 form', () => {
    expect(parseProcNetTcpLine(line(lines6, '1'))?.local).toEqual({ address: '::1', port: 37653 });
    expect(parseProcNetTcpLine(line(lines6, '0'))?.local).toEqual({ address: '::', port: 41745 });
    const e = parseProcNetTcpLine(line(lines6, '5'));
    expect([e?.local, e?.remote, e?.state]).toEqual([{ address: '2001:db8::1', port: 8080 }, { address: '2001:db8::2', port: 57766 }, 'CLOSE_WAIT']);
  });

  it('reads addresses written by a big-endian machine when told so', () => {
    const be = '   0: 7F000001:0050 0A000001:C000 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 20 4 30 10 -1';
    const e = parseProcNetTcpLine(be, { littleEndian: false });
    expect([e?.local, e?.remote]).toEqual([
      { address: '127.0.0.1', port: 80 },
      { address: '10.0.0.1', port: 49152 },
    ]);
  });

  it.each([
    ['an empty line', ''],
    ['a truncated line', '   2: 0100007F:AB43 00000000:0000 0A 00000000:00000000'],
    ['a bad address', '   2: 0100007G:AB43 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 51364'],
    ['an odd address length', '   2: 0100007:AB43 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 51364'],
    ['a missing slot number', '0100007F:AB43 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 51364 1'],
  ])('returns null for %s', (_name, text) => {
    expect(parseProcNetTcpLine(text)).toBeNull();
  });

  it('maps unknown state and timer codes to UNKNOWN and unknown', () => {
    const e = parseProcNetTcpLine('   0: 0100007F:0050 0100007F:C000 1F 00000000:00000000 09:00000010 00000000     0        0 1 1');
    expect([e?.state, e?.timer, e?.timerMs]).toEqual(['UNKNOWN', 'unknown', 160]);
  });
});

describe('parseProcNetTcp', () => {
  it('parses every socket line of both files', () => {
    expect(parseProcNetTcp(tcp)).toHaveLength(6);
    expect(parseProcNetTcp(tcp6)).toHaveLength(6);
  });
});

describe('formatIpv6', () => {
  const bytes = (hex: string): number[] => hex.match(/../g)!.map((b) => Number.parseInt(b, 16));
  it.each([
    ['00000000000000000000000000000000', '::'],
    ['00000000000000000000000000000001', '::1'],
    ['fe800000000000000000000000010002', 'fe80::1:2'],
    ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['00000000000000000000ffffc0a80001', '::ffff:192.168.0.1'],
  ])('%s is %s', (hex, text) => {
    expect(formatIpv6(bytes(hex))).toBe(text);
  });
});

describe('parseHostPort', () => {
  it.each([
    ['127.0.0.1:5000', { address: '127.0.0.1', port: 5000 }],
    ['::1:5000', { address: '::1', port: 5000 }],
    ['[::1]:5000', { address: '::1', port: 5000 }],
    ['::ffff:127.0.0.1:80', { address: '127.0.0.1', port: 80 }],
    ['::FFFF:127.0.0.1:80', { address: '127.0.0.1', port: 80 }],
  ])('%s', (text, endpoint) => {
    expect(parseHostPort(text)).toEqual(endpoint);
  });

  it.each(['', '5000', 'host:', 'host:99999', 'host:-1', '?:x'])('rejects %j', (text) => {
    expect(parseHostPort(text)).toBeNull();
  });
});

describe('findConnection', () => {
  const index = indexSockets([...parseProcNetTcp(tcp), ...parseProcNetTcp(tcp6)]);

  it('finds our socket by the peer address and the peer-side socket on this host', () => {
    const { ours, theirs } = findConnection(index, parseHostPort('127.0.0.1:38554')!, { address: '127.0.0.1', port: 43843 });
    expect(ours?.inode).toBe(51368);
    expect(theirs?.inode).toBe(51367);
    expect(theirs?.rxQueue).toBe(26);
  });

  it('matches an IPv4 peer accepted on a dual-stack listener (IPv4-mapped in tcp6)', () => {
    const { ours, theirs } = findConnection(index, parseHostPort('::ffff:127.0.0.1:54010')!, null);
    expect(ours?.inode).toBe(51370);
    expect(theirs?.inode).toBe(51369);
  });

  it('matches IPv6 loopback peers', () => {
    const { ours, theirs } = findConnection(index, parseHostPort('::1:57032')!, null);
    expect([ours?.inode, theirs?.inode]).toEqual([51372, 51371]);
  });

  it('uses the local endpoint to pick between sockets that share a remote endpoint', () => {
    const a = '   0: 0100007F:1F90 0100007F:C000 01 00000000:00000000 00:00000000 00000000     0        0 101 1';
    const b = '   1: 0100007F:1F91 0100007F:C000 01 00000000:00000000 00:00000000 00000000     0        0 102 1';
    const two = indexSockets(parseProcNetTcp(`${a}\n${b}\n`));
    const remote = { address: '127.0.0.1', port: 0xc000 };
    expect(findConnection(two, remote, { address: '127.0.0.1', port: 0x1f91 }).ours?.inode).toBe(102);
    expect(findConnection(two, remote, { address: '127.0.0.1', port: 0x1f90 }).ours?.inode).toBe(101);
    expect(findConnection(two, remote, { address: '127.0.0.1', port: 1 }).ours).toBeNull();
  });

  it('finds nothing for an unknown peer and ignores listening sockets', () => {
    expect(findConnection(index, { address: '127.0.0.1', port: 1 }, null)).toEqual({ ours: null, theirs: null });
    expect(findConnection(index, { address: '0.0.0.0', port: 0 }, null)).toEqual({ ours: null, theirs: null });
  });
});
