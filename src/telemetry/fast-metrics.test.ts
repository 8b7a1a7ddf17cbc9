import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FastCounter, FastHistogram } from './fast-metrics.ts';
import { parsePromText } from './prom-text.ts';

/** Samples of one family with the family name stripped, so two names can be compared. */
async function samplesOf(registry: Registry, name: string) {
  const family = parsePromText(await registry.metrics()).families.get(name);
  return {
    type: family?.type,
    samples: (family?.samples ?? []).map((s) => ({ suffix: s.name.slice(name.length), labels: s.labels, value: s.value })).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
  };
}

const buckets = [0.1, 0.5, 1, 5];
const observations: [number, string, string][] = [[0.05, 'a', 'x'], [0.1, 'a', 'x'], [0.7, 'a', 'y'], [3, 'b', 'x'], [9, 'b', 'x'], [0.5, 'a', 'x']];

describe('FastHistogram and FastCounter', () => {
  it('expose exactly what prom-client would for the same observations', async () => {
    const registry = new Registry();
    const reference = new Histogram({ name: 'ref_seconds', help: 'h', labelNames: ['pool', 'priority'], buckets, registers: [registry] });
    const fast = new FastHistogram({ name: 'fast_seconds', help: 'h', labelNames: ['pool', 'priority'], buckets, registry });
    const refCounter = new Counter({ name: 'ref_total', help: 'c', labelNames: ['pool', 'priority'], registers: [registry] });
    const fastCounter = new FastCounter({ name: 'fast_total', help: 'c', labelNames: ['pool', 'priority'], registry });
    for (const [v, pool, priority] of observations) {
      reference.observe({ pool, priority }, v);
      fast.observe(v, pool, priority);
      refCounter.inc({ pool, priority }, Math.round(v * 10));
      fastCounter.add(Math.round(v * 10), pool, priority);
    }
    expect(await samplesOf(registry, 'fast_seconds')).toEqual(await samplesOf(registry, 'ref_seconds'));
    expect(await samplesOf(registry, 'fast_total')).toEqual(await samplesOf(registry, 'ref_total'));
  });

  it('shows an unlabelled counter at 0 from the start and again after a reset', async () => {
    const registry = new Registry();
    const c = new FastCounter({ name: 'x_total', help: 'x', registry });
    expect(await registry.metrics()).toContain('x_total 0');
    c.add(2);
    c.add(-1); // counters never go down
    expect(await registry.metrics()).toContain('x_total 2');
    registry.resetMetrics();
    expect(await registry.metrics()).toContain('x_total 0');
  });

  it('ignores NaN observations instead of poisoning the sum', async () => {
    const registry = new Registry();
    const h = new FastHistogram({ name: 'h_seconds', help: 'h', labelNames: ['pool'], buckets, registry });
    h.observe(Number.NaN, 'a');
    h.observe(0.2, 'a');
    const { samples } = await samplesOf(registry, 'h_seconds');
    expect(samples.find((s) => s.suffix === '_sum')?.value).toBe(0.2);
    expect(samples.find((s) => s.suffix === '_count')?.value).toBe(1);
  });

  it('exposes four labels exactly as prom-client would', async () => {
    const registry = new Registry();
    const labelNames = ['pool', 'priority', 'outcome', 'tenant'];
    const ref = new Counter({ name: 'ref4_total', help: 'c', labelNames, registers: [registry] });
    const fast = new FastCounter({ name: 'fast4_total', help: 'c', labelNames, registry });
    for (const [pool, priority, outcome, tenant] of [['p', 'batch', 'failed', 'a'], ['p', 'batch', 'failed', 'b'], ['p', 'batch', 'failed', 'a'], ['q', 'interactive', 'completed', 'a']] as const) {
      ref.inc({ pool, priority, outcome, tenant });
      fast.add(1, pool, priority, outcome, tenant);
    }
    expect(await samplesOf(registry, 'fast4_total')).toEqual(await samplesOf(registry, 'ref4_total'));
  });

  it('refuses more than four labels', () => {
    expect(() => new FastCounter({ name: 'y_total', help: 'y', labelNames: ['a', 'b', 'c', 'd', 'e'], registry: new Registry() })).toThrow(/at most four/);
  });
});
