/**
 * Heartbeat arrival traces: the files the detector benchmark replays. One JSON file per
 * trace in `packages/bench/traces/`; each holds one or more peers' heartbeat arrival
 * times as seen by the monitoring side, crash-free (the benchmark injects the crashes).
 * Add a trace by dropping a file in that format there.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** One monitored peer: arrival times are `startMs` then the running sum of `gapsMs`. */
export interface TracePeer {
  readonly id: string;
  readonly startMs: number;
  /** Ms between consecutive heartbeat arrivals (rounded to 0.01 ms). */
  readonly gapsMs: readonly number[];
}

export interface Trace {
  /** Short name; the file is `<name>.json`. */
  readonly name: string;
  /** What the trace models or where it was recorded, for the report. */
  readonly description: string;
  /** How it was made: a generator and seed, or a recording with its conditions. */
  readonly source: string;
  /** The heartbeat interval the sender aimed for, ms (detectors are configured from it). */
  readonly intervalMs: number;
  /** True for traces with network or scheduling jitter (the goal compares detectors on these). */
  readonly jittery: boolean;
  readonly peers: readonly TracePeer[];
}

/** Arrival times of one peer, ms. */
export function arrivalsOf(peer: TracePeer): Float64Array {
  const out = new Float64Array(peer.gapsMs.length + 1);
  let t = peer.startMs;
  out[0] = t;
  for (let i = 0; i < peer.gapsMs.length; i++) {
    t += peer.gapsMs[i]!;
    out[i + 1] = t;
  }
  return out;
}

/** Reads and checks one trace file. @throws Error naming the file and the problem. */
export function readTrace(path: string): Trace {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Partial<Trace>;
  const fail = (why: string): never => {
    throw new Error(`${path}: ${why}`);
  };
  if (typeof raw.name !== 'string' || raw.name === '') fail('name must be a non-empty string');
  if (typeof raw.description !== 'string') fail('description must be a string');
  if (typeof raw.source !== 'string') fail('source must be a string');
  if (typeof raw.jittery !== 'boolean') fail('jittery must be true or false');
  if (!(typeof raw.intervalMs === 'number' && Number.isInteger(raw.intervalMs) && raw.intervalMs > 0)) fail('intervalMs must be a positive integer');
  if (!Array.isArray(raw.peers) || raw.peers.length === 0) fail('peers must be a non-empty array');
  for (const p of raw.peers!) {
    if (typeof p.id !== 'string' || !Number.isFinite(p.startMs) || !Array.isArray(p.gapsMs)) fail('each peer needs id, startMs and gapsMs');
    if (p.gapsMs.length < 10) fail(`peer ${p.id} has fewer than 10 gaps`);
    if (!p.gapsMs.every((g) => typeof g === 'number' && g >= 0 && Number.isFinite(g))) fail(`peer ${p.id} has a negative or non-numeric gap`);
  }
  return raw as Trace;
}

/** Every `*.json` trace in `dir`, sorted by name. */
export function readTraces(dir: string): Trace[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => readTrace(join(dir, f)));
}

/** Peer-hours covered by a trace (first to last arrival of each peer). */
export function peerHours(trace: Trace): number {
  let ms = 0;
  for (const p of trace.peers) for (const g of p.gapsMs) ms += g;
  return ms / 3_600_000;
}

/** The JSON text for a trace: one peer per line, so diffs stay readable. */
export function formatTrace(trace: Trace): string {
  const head = { name: trace.name, description: trace.description, source: trace.source, intervalMs: trace.intervalMs, jittery: trace.jittery };
  const peers = trace.peers.map((p) => `    ${JSON.stringify({ id: p.id, startMs: round2(p.startMs), gapsMs: p.gapsMs.map(round2) })}`);
  return `${JSON.stringify(head, null, 2).slice(0, -2)},\n  "peers": [\n${peers.join(',\n')}\n  ]\n}\n`;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
