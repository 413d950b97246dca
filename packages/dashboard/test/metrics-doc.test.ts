/**
 * docs/metrics.md documents every metric `createMetrics` registers, with its type
 * and labels, and nothing else.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMetrics, VigilServer } from '@vigil/server';

interface Documented {
  readonly type: string;
  readonly labels: readonly string[];
}

function documented(): Map<string, Documented> {
  const text = readFileSync(join(__dirname, '../../../docs/metrics.md'), 'utf8');
  const rows = new Map<string, Documented>();
  for (const line of text.split('\n')) {
    const m = /^\| `(vigil_[a-z_]+)` \| (\w+) \| ([^|]*) \|/.exec(line);
    if (m === null) continue;
    const labels = [...m[3]!.matchAll(/`([a-z_]+)`/g)].map((l) => l[1]!);
    rows.set(m[1]!, { type: m[2]!, labels });
  }
  return rows;
}

describe('docs/metrics.md', () => {
  const server = new VigilServer({ tcp: { port: 0 } });
  const registry = createMetrics(server);

  it('lists exactly the registered metrics', () => {
    const registered = registry.getMetricsAsArray().map((m) => (m as unknown as { name: string }).name).sort();
    expect([...documented().keys()].sort()).toEqual(registered);
  });

  it('gives each metric its registered type and labels', async () => {
    const docs = documented();
    for (const metric of await registry.getMetricsAsJSON()) {
      const single = registry.getSingleMetric(metric.name) as unknown as { labelNames?: readonly string[] };
      expect({ name: metric.name, ...docs.get(metric.name) }).toEqual({ name: metric.name, type: metric.type, labels: [...(single.labelNames ?? [])] });
    }
  });

  it('uses the vigil_ prefix and base units', () => {
    for (const name of documented().keys()) {
      expect(name).toMatch(/^vigil_/);
      expect(name).not.toMatch(/_(ms|milliseconds|minutes)(_|$)/);
    }
  });
});
