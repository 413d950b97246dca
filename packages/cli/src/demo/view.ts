/**
 * What the demo shows, as pure functions from data to lines: the liveness table
 * (one row per peer id, from the server's snapshot), state changes and schedule
 * actions as log lines, and the full terminal frame. ANSI colour is optional.
 */
import type { PeerState, StateChange } from '@vigil/core';
import type { PeerInfo } from '@vigil/server';
import type { ChildState } from './children.js';
import type { DemoAction, DemoPeer } from './scenario.js';

/** One line of the liveness table. Nulls print as `-`. */
export interface TableRow {
  readonly id: string;
  readonly transport: 'tcp' | 'ws' | null;
  /** Null while the peer has not connected yet (or was forgotten). */
  readonly state: PeerState | null;
  readonly rttMs: number | null;
  readonly silenceMs: number | null;
  readonly timeoutMs: number | null;
  readonly cause: string | null;
  readonly reconnects: number | null;
  /** What the supervisor did to the process; null for peers it does not run. */
  readonly process: ChildState | null;
}

/**
 * One row per roster peer (in roster order), then one per other peer id seen. For an
 * id with several sessions, the live one wins, else the one that ended last.
 */
export function tableRows(snapshot: readonly PeerInfo[], roster: readonly DemoPeer[], processOf: (id: string) => ChildState | null): TableRow[] {
  const best = new Map<string, PeerInfo>();
  for (const info of snapshot) {
    const seen = best.get(info.id);
    const live = info.state !== 'dead' && info.state !== 'closed';
    const seenLive = seen !== undefined && seen.state !== 'dead' && seen.state !== 'closed';
    if (seen === undefined || (live && !seenLive) || (live === seenLive && info.since > seen.since)) best.set(info.id, info);
  }
  const row = (id: string, transport: 'tcp' | 'ws' | null): TableRow => {
    const info = best.get(id);
    return {
      id,
      transport: info?.transport ?? transport,
      state: info?.state ?? null,
      rttMs: info?.rttMs ?? null,
      silenceMs: info?.lastSeenMs ?? null,
      timeoutMs: info?.timeoutMs ?? null,
      cause: info?.cause ?? null,
      reconnects: info?.reconnects ?? null,
      process: processOf(id),
    };
  };
  const rows = roster.map((p) => row(p.id, p.transport));
  const known = new Set(roster.map((p) => p.id));
  for (const id of [...best.keys()].sort()) if (!known.has(id)) rows.push(row(id, null));
  return rows;
}

const ANSI = {
  reset: '\x1b[0m',
  bold: '\x1b[1m',
  dim: '\x1b[2m',
  red: '\x1b[31m',
  green: '\x1b[32m',
  yellow: '\x1b[33m',
  blue: '\x1b[34m',
  magenta: '\x1b[35m',
  cyan: '\x1b[36m',
  gray: '\x1b[90m',
} as const;
type Colour = Exclude<keyof typeof ANSI, 'reset'>;

const STATE_COLOUR: Readonly<Record<PeerState, Colour>> = {
  connecting: 'cyan',
  alive: 'green',
  suspect: 'yellow',
  dead: 'red',
  closed: 'gray',
};

const PROCESS_COLOUR: Readonly<Record<ChildState, Colour>> = {
  running: 'dim',
  frozen: 'blue',
  slow: 'yellow',
  crashed: 'red',
  exited: 'magenta',
};

export interface ViewOptions {
  /** Emit ANSI colour codes. */
  readonly color: boolean;
}

function paint(text: string, colour: Colour, options: ViewOptions): string {
  return options.color && text !== '' ? `${ANSI[colour]}${text}${ANSI.reset}` : text;
}

/** Pads to `width` on the right (or left for numbers), then colours: padding first keeps columns aligned. */
function cell(text: string, width: number, options: ViewOptions, colour?: Colour, alignRight = false): string {
  const padded = alignRight ? text.padStart(width) : text.padEnd(width);
  return colour === undefined ? padded : paint(padded, colour, options);
}

const BAR_WIDTH = 10;
/** `silence / timeout` text; in colour mode a bar follows it. */
const SILENCE_TEXT_WIDTH = 14;

function silenceWidth(options: ViewOptions): number {
  return options.color ? SILENCE_TEXT_WIDTH + 1 + BAR_WIDTH : 'SILENCE / TIMEOUT ms'.length;
}

function silenceCell(row: TableRow, options: ViewOptions): string {
  const width = silenceWidth(options);
  if (row.silenceMs === null) return cell('-', width, options);
  const text = `${String(row.silenceMs).padStart(5)} / ${row.timeoutMs === null ? '-' : String(row.timeoutMs)}`;
  if (!options.color || row.timeoutMs === null) return text.padEnd(width);
  const ratio = Math.min(1, row.silenceMs / row.timeoutMs);
  const filled = Math.round(ratio * BAR_WIDTH);
  const colour: Colour = ratio >= 1 ? 'red' : ratio >= 0.5 ? 'yellow' : 'green';
  return `${text.padEnd(SILENCE_TEXT_WIDTH)} ${paint('█'.repeat(filled), colour, options)}${paint('·'.repeat(BAR_WIDTH - filled), 'gray', options)}`;
}

/** The table's header and rows as lines. */
export function renderTable(rows: readonly TableRow[], options: ViewOptions): string[] {
  const idWidth = Math.max(12, ...rows.map((r) => r.id.length));
  const header = [
    'PEER'.padEnd(idWidth),
    'TRANSPORT',
    'STATE'.padEnd(10),
    'RTT ms'.padStart(8),
    'SILENCE / TIMEOUT ms'.padEnd(silenceWidth(options)),
    'CAUSE'.padEnd(18),
    'RECONNECTS',
    'PROCESS',
  ].join('  ');
  const lines = [paint(header, 'bold', options)];
  for (const r of rows) {
    lines.push(
      [
        cell(r.id, idWidth, options),
        cell(r.transport ?? '-', 9, options),
        cell(r.state ?? '-', 10, options, r.state === null ? 'gray' : STATE_COLOUR[r.state]),
        cell(r.rttMs === null ? '-' : r.rttMs.toFixed(1), 8, options, undefined, true),
        silenceCell(r, options),
        cell(r.cause ?? '-', 18, options, r.cause === null ? undefined : 'gray'),
        cell(r.reconnects === null ? '-' : String(r.reconnects), 10, options, undefined, true),
        r.process === null ? '-' : paint(r.process, PROCESS_COLOUR[r.process], options),
      ].join('  '),
    );
  }
  return lines;
}

/** `+12.3s` since the demo started. */
export function elapsed(ms: number): string {
  return `+${(Math.max(0, ms) / 1000).toFixed(1)}s`.padStart(7);
}

/** One state change as a log line. */
export function formatChange(change: StateChange, startedAt: number, options: ViewOptions): string {
  const to = paint(change.to, STATE_COLOUR[change.to], options);
  const why = change.cause === null ? '' : ` (${change.cause}, silent ${Math.round(change.silenceMs)} ms)`;
  return `${elapsed(change.at - startedAt)}  ${change.peerId}: ${change.from} -> ${to}${why}`;
}

/** What a schedule action does, in words. */
export function describeAction(action: DemoAction): string {
  switch (action.kind) {
    case 'freeze':
      return `SIGSTOP ${action.peer}: frozen, its socket stays open but nothing answers`;
    case 'thaw':
      return `SIGCONT ${action.peer}: it wakes up, finds its session gone and reconnects`;
    case 'crash':
      return `SIGKILL ${action.peer}: the process dies and the kernel closes its socket`;
    case 'respawn':
      return `respawn ${action.peer}`;
    case 'slow':
      return `${action.peer} starts blocking its event loop, so its pongs come late`;
    case 'recover':
      return `${action.peer} answers promptly again`;
  }
}

/** One schedule action as a log line. */
export function formatAction(action: DemoAction, nowMs: number, options: ViewOptions): string {
  return `${elapsed(nowMs)}  ${paint('schedule:', 'magenta', options)} ${describeAction(action)}`;
}

/** Everything the live view shows at one moment. */
export interface Frame {
  readonly apiUrl: string;
  readonly tcpPort: number;
  readonly wsPort: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly suspectAfterMs: number;
  readonly uptimeMs: number;
  /** Ms left of `--duration`, or null to run until Ctrl-C. */
  readonly remainingMs: number | null;
  /** The demo is shutting down. */
  readonly stopping: boolean;
  readonly next: { readonly action: DemoAction; readonly inMs: number } | null;
  readonly rows: readonly TableRow[];
  /** Most recent log lines, oldest first. */
  readonly recent: readonly string[];
}

/** The whole terminal screen, as lines. */
export function renderFrame(frame: Frame, options: ViewOptions): string[] {
  const stop = frame.stopping
    ? 'stopping'
    : frame.remainingMs === null
      ? 'Ctrl-C to stop'
      : `stopping in ${(frame.remainingMs / 1000).toFixed(0)} s (Ctrl-C to stop now)`;
  const next = frame.next === null || frame.stopping ? '' : `next in ${(frame.next.inMs / 1000).toFixed(1)} s: ${describeAction(frame.next.action)}`;
  return [
    `${paint('Vigil demo', 'bold', options)}  ${paint(frame.apiUrl, 'cyan', options)}  (dashboard; also /api/peers, /metrics)`,
    `tcp://127.0.0.1:${frame.tcpPort}  ws://127.0.0.1:${frame.wsPort}  ping every ${frame.intervalMs} ms, suspect after ${frame.suspectAfterMs} ms, dead after ${frame.timeoutMs} ms of silence`,
    `up ${(frame.uptimeMs / 1000).toFixed(1)} s, ${stop}`,
    '',
    ...renderTable(frame.rows, options),
    '',
    paint(next, 'magenta', options),
    '',
    paint('recent:', 'bold', options),
    ...frame.recent,
  ];
}
