/**
 * Summaries of the evidence the scale benchmark cites: a V8 heap snapshot reduced to
 * bytes and counts per kind of object (so two snapshots at different peer counts give
 * the cost of one more peer, object by object), and a `.cpuprofile` reduced to the
 * functions with the most self and inclusive time.
 */
import { readFileSync } from 'node:fs';

interface HeapSnapshot {
  readonly snapshot: { readonly meta: { readonly node_fields: string[]; readonly node_types: [string[], ...unknown[]] } };
  readonly nodes: number[];
  readonly strings: string[];
}

/** Self bytes and object count per `type:name` (closures by name, strings and numbers pooled). */
export function heapByKind(path: string): Map<string, { bytes: number; count: number }> {
  const snap = JSON.parse(readFileSync(path, 'utf8')) as HeapSnapshot;
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const out = new Map<string, { bytes: number; count: number }>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!]!;
    let name = snap.strings[snap.nodes[i + nameAt]!]!;
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' || type === 'code') name = '';
    const key = `${type}:${name}`;
    const entry = out.get(key) ?? { bytes: 0, count: 0 };
    entry.bytes += snap.nodes[i + sizeAt]!;
    entry.count++;
    out.set(key, entry);
  }
  return out;
}

export interface PerPeerRow {
  readonly kind: string;
  readonly bytesPerPeer: number;
  readonly perPeer: number;
}

/** What each kind of object grew by from snapshot `a` to `b`, divided by the peers added; largest first. */
export function heapPerPeer(a: string, b: string, peersAdded: number): PerPeerRow[] {
  const before = heapByKind(a);
  const after = heapByKind(b);
  const rows: PerPeerRow[] = [];
  for (const [kind, v] of after) {
    const o = before.get(kind) ?? { bytes: 0, count: 0 };
    rows.push({ kind, bytesPerPeer: (v.bytes - o.bytes) / peersAdded, perPeer: (v.count - o.count) / peersAdded });
  }
  return rows.sort((x, y) => y.bytesPerPeer - x.bytesPerPeer);
}

interface CpuProfile {
  readonly nodes: { readonly id: number; readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }; readonly children?: number[] }[];
  readonly samples: number[];
}

export interface CpuRow {
  readonly fn: string;
  /** Share of the non-idle samples, %. */
  readonly self: number;
  readonly inclusive: number;
}

/** Functions by self and inclusive share of the busy samples (idle excluded). */
export function cpuByFunction(path: string): CpuRow[] {
  const p = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (id: number): string => {
    const f = byId.get(id)!.callFrame;
    const file = f.url.split('/').slice(-2).join('/');
    return `${f.functionName || '(anonymous)'}${file ? ` ${file}:${f.lineNumber + 1}` : ''}`;
  };
  const counts = new Map<number, number>();
  for (const s of p.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let busy = 0;
  for (const [id, c] of counts) {
    const own = label(id);
    if (own.startsWith('(idle)')) continue;
    busy += c;
    self.set(own, (self.get(own) ?? 0) + c);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(cur);
      if (seen.has(l) || l.startsWith('(root)')) continue;
      seen.add(l);
      incl.set(l, (incl.get(l) ?? 0) + c);
    }
  }
  return [...incl.keys()]
    .map((fn) => ({ fn, self: (100 * (self.get(fn) ?? 0)) / busy, inclusive: (100 * incl.get(fn)!) / busy }))
    .sort((a, b) => b.inclusive - a.inclusive);
}
