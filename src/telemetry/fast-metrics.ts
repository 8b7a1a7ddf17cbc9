// Per-task counters and histograms, kept beside prom-client for one measured reason: cost per
// task. prom-client turns the label object into a series key string on every inc/observe
// (~1.3 µs each; the ten updates of one task lifecycle took ~13 µs, these ~0.5-1.3 µs, node 24
// on the bench machine). Issue #5 allows metrics ≤ 3% of throughput, a margin end-to-end runs on
// two cores cannot resolve (docs/benchmarks.md "Noise"), so the per-task cost is kept near zero
// by construction: series are found through nested Maps keyed by label value and label objects
// are built only when scraped. They plug into a prom-client Registry (exposition identical, a
// test compares), so one `/metrics` serves both kinds; gauges and defaults stay on prom-client.

import type { Metric, Registry } from 'prom-client';

interface Series {
  labels: Record<string, string>;
  value: number;
  /** Histograms: per-bucket (non-cumulative) counts, the last one for +Inf. */
  buckets?: Float64Array;
  sum?: number;
}

interface ExposedValue {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

/** Label values → series via one Map level per label: no key strings, nothing allocated once seen. */
class SeriesTable {
  readonly #labelNames: readonly string[];
  readonly #root = new Map<string, unknown>();
  readonly #all: Series[] = [];
  readonly #bucketCount: number;

  constructor(labelNames: readonly string[], bucketCount: number) {
    if (labelNames.length > 4) throw new Error('fast metrics take at most four labels');
    this.#labelNames = labelNames;
    this.#bucketCount = bucketCount;
  }

  get(a: string, b: string, c: string, d: string): Series {
    switch (this.#labelNames.length) {
      case 0:
        return this.#all[0] ?? this.#add(a, b, c, d);
      case 1:
        return this.#leaf(this.#root, a, a, b, c, d);
      case 2:
        return this.#leaf(this.#level(this.#root, a), b, a, b, c, d);
      case 3:
        return this.#leaf(this.#level(this.#level(this.#root, a), b), c, a, b, c, d);
      default:
        return this.#leaf(this.#level(this.#level(this.#level(this.#root, a), b), c), d, a, b, c, d);
    }
  }

  #level(map: Map<string, unknown>, key: string): Map<string, unknown> {
    let next = map.get(key) as Map<string, unknown> | undefined; // inner levels hold Maps
    if (next === undefined) map.set(key, (next = new Map()));
    return next;
  }

  #leaf(map: Map<string, unknown>, key: string, a: string, b: string, c: string, d: string): Series {
    let series = map.get(key) as Series | undefined; // the last level holds series
    if (series === undefined) map.set(key, (series = this.#add(a, b, c, d)));
    return series;
  }

  #add(a: string, b: string, c: string, d: string): Series {
    const labels: Record<string, string> = {};
    const values = [a, b, c, d];
    this.#labelNames.forEach((name, i) => (labels[name] = values[i] as string));
    const series: Series = { labels, value: 0, ...(this.#bucketCount > 0 && { buckets: new Float64Array(this.#bucketCount + 1), sum: 0 }) };
    this.#all.push(series);
    return series;
  }

  all(): readonly Series[] {
    return this.#all;
  }

  clear(): void {
    this.#root.clear();
    this.#all.length = 0;
  }
}

interface Options {
  name: string;
  help: string;
  labelNames?: readonly string[];
  registry: Registry;
}

abstract class FastMetric {
  readonly name: string;
  readonly help: string;
  abstract readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum';
  protected readonly table: SeriesTable;
  readonly #unlabeled: boolean;

  constructor(opts: Options, bucketCount: number) {
    this.name = opts.name;
    this.help = opts.help;
    this.table = new SeriesTable(opts.labelNames ?? [], bucketCount);
    this.#unlabeled = (opts.labelNames ?? []).length === 0;
    this.#prime();
    // The registry only reads name, type, get() and reset(); prom-client types its argument as
    // one of its own classes, hence the cast.
    opts.registry.registerMetric(this as unknown as Metric);
  }

  protected abstract values(): ExposedValue[];

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: ExposedValue[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values() };
  }

  reset(): void {
    this.table.clear();
    this.#prime();
  }

  /** An unlabelled series is shown from the start (at 0), as prom-client does. */
  #prime(): void {
    if (this.#unlabeled) this.table.get('', '', '', '');
  }
}

export class FastCounter extends FastMetric {
  readonly type = 'counter';

  constructor(opts: Options) {
    super(opts, 0);
  }

  /** Adds `by` (≥ 0) to the series with these label values, in labelNames order. */
  add(by: number, a = '', b = '', c = '', d = ''): void {
    if (by > 0) this.table.get(a, b, c, d).value += by;
  }

  protected values(): ExposedValue[] {
    return this.table.all().map((s) => ({ labels: s.labels, value: s.value }));
  }
}

export class FastHistogram extends FastMetric {
  readonly type = 'histogram';
  readonly #bounds: readonly number[];

  constructor(opts: Options & { buckets: readonly number[] }) {
    super(opts, opts.buckets.length);
    this.#bounds = [...opts.buckets].sort((x, y) => x - y);
  }

  observe(value: number, a = '', b = '', c = '', d = ''): void {
    if (Number.isNaN(value)) return;
    const series = this.table.get(a, b, c, d);
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    const buckets = series.buckets as Float64Array; // histogram series always carry buckets
    buckets[i] = (buckets[i] ?? 0) + 1;
    series.sum = (series.sum ?? 0) + value;
    series.value += 1;
  }

  protected values(): ExposedValue[] {
    const out: ExposedValue[] = [];
    for (const s of this.table.all()) {
      let cumulative = 0;
      const buckets = s.buckets as Float64Array;
      for (let i = 0; i <= this.#bounds.length; i++) {
        cumulative += buckets[i] ?? 0;
        out.push({ metricName: `${this.name}_bucket`, labels: { le: i < this.#bounds.length ? (this.#bounds[i] as number) : '+Inf', ...s.labels }, value: cumulative });
      }
      out.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum ?? 0 });
      out.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.value });
    }
    return out;
  }
}
