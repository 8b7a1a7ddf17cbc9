import { describe, expect, it } from 'vitest';
import type { MetricsContract } from './metrics-lint.ts';
import { checkPromQL, scanPromQL } from './promql-names.ts';

const contract: MetricsContract = {
  prefix: 'orchqueue_',
  series: [
    { name: 'orchqueue_wait_seconds', type: 'histogram', unit: 'seconds', help: 'x', labels: { pool: 4, priority: 2 }, required: true },
    { name: 'orchqueue_things_total', type: 'counter', unit: 'things', help: 'x', labels: { pool: 4, reason: 3 }, required: true },
    { name: 'orchqueue_depth', type: 'gauge', unit: 'tasks', help: 'x', labels: { pool: 4 }, required: true },
  ],
};

describe('scanPromQL', () => {
  it('finds metrics, matchers and grouping labels and skips functions, strings, ranges and variables', () => {
    const expr = 'histogram_quantile(0.99, sum by (le, pool) (rate(orchqueue_wait_seconds_bucket{pool=~"$pool", priority="batch"}[$__rate_interval])))';
    expect(scanPromQL(expr)).toEqual({
      selectors: [{ metric: 'orchqueue_wait_seconds_bucket', matchers: ['pool', 'priority'] }],
      grouping: ['le', 'pool'],
    });
  });

  it('reads binary expressions, offsets, numbers and __name__ selectors', () => {
    const expr = 'sum(rate(orchqueue_things_total{reason="a{b}"}[5m] offset 1h)) / on (pool) group_left sum without (reason) ({__name__="orchqueue_depth"}) > 1e+3 and orchqueue_depth';
    const uses = scanPromQL(expr);
    expect(uses.selectors.map((s) => s.metric)).toEqual(['orchqueue_things_total', 'orchqueue_depth', 'orchqueue_depth']);
    expect(uses.grouping).toEqual(['pool', 'reason']);
  });
});

describe('checkPromQL', () => {
  it('accepts expressions that use only contract series and their labels', () => {
    expect(checkPromQL('sum by (pool) (rate(orchqueue_wait_seconds_count{pool="a"}[5m]))', contract)).toEqual([]);
    expect(checkPromQL('up{job="orchqueue"} == 0', contract)).toEqual([]);
  });

  it('reports unknown metrics, unknown matcher labels and grouping by a label nobody has', () => {
    expect(checkPromQL('rate(orchqueue_wait_ms_bucket[5m])', contract)).toEqual(['unknown metric orchqueue_wait_ms_bucket']);
    expect(checkPromQL('orchqueue_depth{replica="r1"}', contract)).toEqual(['orchqueue_depth has no label replica']);
    expect(checkPromQL('sum by (replica) (orchqueue_depth)', contract)).toEqual(['grouping by replica, which no metric in the expression has']);
    expect(checkPromQL('orchqueue_depth_bucket', contract)).toEqual(['unknown metric orchqueue_depth_bucket']);
  });
});
