import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { asMetricsContract, lintContract, lintExposition, readMetricsContract, type MetricsContract } from './metrics-lint.ts';

const docs = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');

const small: MetricsContract = {
  prefix: 'orchqueue_',
  series: [
    { name: 'orchqueue_things_total', type: 'counter', unit: 'things', help: 'Things.', labels: { pool: 2 }, required: true },
    { name: 'orchqueue_wait_seconds', type: 'histogram', unit: 'seconds', help: 'Wait.', labels: {}, required: true },
    { name: 'orchqueue_optional', type: 'gauge', unit: '1', help: 'Optional.', labels: {}, required: false },
  ],
};

const good = [
  '# HELP orchqueue_things_total Things.',
  '# TYPE orchqueue_things_total counter',
  'orchqueue_things_total{pool="a"} 1',
  'orchqueue_things_total{pool="b"} 2',
  '# HELP orchqueue_wait_seconds Wait.',
  '# TYPE orchqueue_wait_seconds histogram',
  'orchqueue_wait_seconds_bucket{le="0.1"} 1',
  'orchqueue_wait_seconds_bucket{le="+Inf"} 1',
  'orchqueue_wait_seconds_sum 0.05',
  'orchqueue_wait_seconds_count 1',
].join('\n');

describe('lintExposition', () => {
  it('accepts an exposition that matches the contract, optional series absent', () => {
    expect(lintExposition(good, small)).toEqual([]);
  });

  it('reports an unknown series', () => {
    const text = `${good}\n# HELP orchqueue_surprise Oops.\n# TYPE orchqueue_surprise gauge\norchqueue_surprise 1\n`;
    expect(lintExposition(text, small)).toEqual([{ kind: 'unknown', series: 'orchqueue_surprise', detail: expect.any(String) }]);
  });

  it('reports a label over its cardinality budget', () => {
    const text = `${good}\norchqueue_things_total{pool="c"} 1\n`;
    expect(lintExposition(text, small)).toEqual([{ kind: 'budget', series: 'orchqueue_things_total', detail: 'label "pool" has 3 values, budget 2' }]);
  });

  it('reports an undocumented label, a wrong type, different help and a missing series', () => {
    const text = [
      '# HELP orchqueue_things_total Other words.',
      '# TYPE orchqueue_things_total gauge',
      'orchqueue_things_total{pool="a",task_id="t-1"} 1',
    ].join('\n');
    const kinds = lintExposition(text, small).map((p) => `${p.kind}:${p.series}`).sort();
    expect(kinds).toEqual(['help:orchqueue_things_total', 'label:orchqueue_things_total', 'missing:orchqueue_wait_seconds', 'type:orchqueue_things_total']);
  });

  it('reports lines it cannot parse', () => {
    const problems = lintExposition(`${good}\norchqueue_things_total{pool="a} 1\n`, small);
    expect(problems.map((p) => p.kind)).toEqual(['parse']);
  });
});

describe('the metrics contract (ci/metrics.lint.json)', () => {
  const contract = readMetricsContract();

  // ORCH-0801
  it('follows the naming rules: prefix, base units, _total on counters, bounded labels', () => {
    expect(lintContract(contract)).toEqual([]);
  });

  // ORCH-0801
  it('is fully documented in docs/metrics.md', () => {
    const undocumented = contract.series.filter((s) => !docs.includes(`\`${s.name}\``)).map((s) => s.name);
    expect(undocumented).toEqual([]);
  });

  it('refuses a contract file that is not shaped like one, naming the bad entry', () => {
    const entry = { name: 'orchqueue_x', type: 'gauge', unit: '1', help: 'x', labels: {}, required: true };
    expect(asMetricsContract({ prefix: 'orchqueue_', series: [entry] }).series).toEqual([entry]);
    expect(() => asMetricsContract(null)).toThrow('not an object');
    expect(() => asMetricsContract({ series: [] })).toThrow('needs "prefix" and "series"');
    expect(() => asMetricsContract({ prefix: 'orchqueue_', series: [entry, { ...entry, type: 'info' }] })).toThrow('series[1] is malformed');
    expect(() => asMetricsContract({ prefix: 'orchqueue_', series: [{ ...entry, labels: { pool: 'many' } }] })).toThrow('series[0] is malformed');
  });

  it('catches naming mistakes in a contract entry', () => {
    const bad = lintContract({
      prefix: 'orchqueue_',
      series: [
        { name: 'orchqueue_wait_ms', type: 'histogram', unit: 'seconds', help: 'x', labels: { task_id: 100 }, required: true },
        { name: 'queue_things', type: 'counter', unit: 'things', help: 'x', labels: {}, required: true },
      ],
    });
    expect(bad.map((p) => p.detail)).toEqual([
      'label "task_id" is unbounded',
      'unit seconds but name does not end in _seconds',
      'not a base unit',
      'does not start with orchqueue_',
      'counters, and only counters, end in _total',
    ]);
  });
});
