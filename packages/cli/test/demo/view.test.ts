/**
 * The demo's view: picking one row per peer id from the server's snapshot, and the
 * exact plain-text rendering of the table and log lines.
 */
import type { PeerInfo } from '@vigil/server';
import type { DemoPeer } from '../../src/demo/scenario.js';
import { describeAction, formatChange, renderFrame, renderTable, tableRows, type TableRow } from '../../src/demo/view.js';

function info(overrides: Partial<PeerInfo> & Pick<PeerInfo, 'id'>): PeerInfo {
  return {
    sessionId: `${overrides.id}-s`,
    transport: 'tcp',
    remote: '127.0.0.1:50000',
    state: 'alive',
    cause: null,
    rttMs: 1.25,
    rttVarMs: 0.5,
    rttSamples: [1.25],
    clockOffsetMs: 0,
    lastSeenMs: 120,
    intervalMs: 1000,
    timeoutMs: 3000,
    connectedAt: 1000,
    since: 1000,
    reconnects: 0,
    ...overrides,
  };
}

const ROSTER: DemoPeer[] = [
  { id: 'a', transport: 'tcp', behaviour: 'healthy' },
  { id: 'b', transport: 'ws', behaviour: 'crashes' },
];

describe('tableRows', () => {
  it('keeps roster order, prefers the live session of an id, and appends unknown peers', () => {
    const rows = tableRows(
      [
        info({ id: 'zz', transport: 'ws' }),
        info({ id: 'b', sessionId: 'old', transport: 'ws', state: 'dead', cause: 'closed-by-peer', since: 5000, lastSeenMs: 900 }),
        info({ id: 'b', sessionId: 'new', transport: 'ws', state: 'connecting', since: 4000, rttMs: null, reconnects: 1 }),
      ],
      ROSTER,
      (id) => (id === 'b' ? 'running' : null),
    );
    expect(rows).toEqual<TableRow[]>([
      { id: 'a', transport: 'tcp', state: null, rttMs: null, silenceMs: null, timeoutMs: null, cause: null, reconnects: null, process: null },
      { id: 'b', transport: 'ws', state: 'connecting', rttMs: null, silenceMs: 120, timeoutMs: 3000, cause: null, reconnects: 1, process: 'running' },
      { id: 'zz', transport: 'ws', state: 'alive', rttMs: 1.25, silenceMs: 120, timeoutMs: 3000, cause: null, reconnects: 0, process: null },
    ]);
  });

  it('shows the session that ended last when none is live', () => {
    const rows = tableRows(
      [info({ id: 'a', sessionId: 's2', state: 'dead', cause: 'reset', since: 9000 }), info({ id: 'a', sessionId: 's1', state: 'dead', cause: 'heartbeat-timeout', since: 2000 })],
      ROSTER.slice(0, 1),
      () => 'crashed',
    );
    expect(rows.map((r) => [r.state, r.cause, r.process])).toEqual([['dead', 'reset', 'crashed']]);
  });
});

describe('renderTable', () => {
  const rows: TableRow[] = [
    { id: 'freezer-tcp', transport: 'tcp', state: 'dead', rttMs: 1.234, silenceMs: 3051, timeoutMs: 3000, cause: 'heartbeat-timeout', reconnects: 2, process: 'frozen' },
    { id: 'a', transport: null, state: null, rttMs: null, silenceMs: null, timeoutMs: null, cause: null, reconnects: null, process: null },
  ];

  it('renders plain, aligned columns', () => {
    expect(renderTable(rows, { color: false })).toEqual([
      'PEER          TRANSPORT  STATE         RTT ms  SILENCE / TIMEOUT ms  CAUSE               RECONNECTS  PROCESS',
      'freezer-tcp   tcp        dead             1.2   3051 / 3000          heartbeat-timeout            2  frozen',
      'a             -          -                  -  -                     -                            -  -',
    ]);
  });

  it('colours states and draws a silence bar in colour mode', () => {
    const [, dead] = renderTable(rows, { color: true });
    expect(dead).toContain('\x1b[31mdead      \x1b[0m');
    expect(dead).toContain(`\x1b[31m${'█'.repeat(10)}\x1b[0m`);
  });
});

describe('log lines', () => {
  it('formats a state change relative to the start', () => {
    expect(formatChange({ peerId: 'p', from: 'alive', to: 'dead', cause: 'heartbeat-timeout', at: 12_345, silenceMs: 3010.4 }, 2345, { color: false })).toBe(
      ' +10.0s  p: alive -> dead (heartbeat-timeout, silent 3010 ms)',
    );
    expect(formatChange({ peerId: 'p', from: 'connecting', to: 'alive', cause: null, at: 100, silenceMs: 0 }, 0, { color: false })).toBe('  +0.1s  p: connecting -> alive');
  });

  it('describes every action', () => {
    for (const kind of ['freeze', 'thaw', 'crash', 'respawn', 'slow', 'recover'] as const) {
      expect(describeAction({ atMs: 0, kind, peer: 'x' })).toContain('x');
    }
  });

  it('puts the dashboard URL on the first line of the frame', () => {
    const lines = renderFrame(
      { apiUrl: 'http://127.0.0.1:7402/', tcpPort: 1, wsPort: 2, intervalMs: 1000, timeoutMs: 3000, suspectAfterMs: 1500, uptimeMs: 0, remainingMs: null, stopping: false, next: null, rows: [], recent: ['x'] },
      { color: false },
    );
    expect(lines[0]).toBe('Vigil demo  http://127.0.0.1:7402/  (dashboard; also /api/peers, /metrics)');
    expect(lines.at(-1)).toBe('x');
  });
});
