// Checks a `/metrics` exposition against the metrics contract (ci/metrics.lint.json): required
// series present, nothing undocumented, names/types/help as documented, labels within budget.
// It also checks the contract itself for naming rules (prefix, base units, `_total`).

import { readFileSync } from 'node:fs';
import { parsePromText, type Family } from '../../src/telemetry/prom-text.ts';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

export interface SeriesContract {
  name: string;
  type: MetricType;
  /** Base unit (`seconds`, `bytes`, `tokens`, `tasks`, ...) or `1` for ratios and states. */
  unit: string;
  help: string;
  /** Label name → the most distinct values one scrape may show for it. */
  labels: Record<string, number>;
  /** false when the series exists only with an optional part (audit, platform-specific). */
  required: boolean;
  group?: string;
  note?: string;
}

export interface MetricsContract {
  prefix: string;
  series: SeriesContract[];
  /** Labels any series may carry, with their budgets (`gateway_replica` with the redis backend). */
  every_series_labels?: Record<string, number>;
}

export type ProblemKind = 'parse' | 'missing' | 'unknown' | 'type' | 'help' | 'label' | 'budget' | 'naming';

export interface LintProblem {
  kind: ProblemKind;
  series: string;
  detail: string;
}

/** Labels Prometheus adds by itself to histogram and summary samples. */
const IMPLICIT_LABELS: Readonly<Record<MetricType, readonly string[]>> = { histogram: ['le'], summary: ['quantile'], counter: [], gauge: [] };
const UNIT_SUFFIX: Readonly<Record<string, string>> = { seconds: '_seconds', bytes: '_bytes' };

export function lintExposition(text: string, contract: MetricsContract): LintProblem[] {
  const parsed = parsePromText(text);
  const problems: LintProblem[] = parsed.errors.map((detail) => ({ kind: 'parse', series: '', detail }));
  const byName = new Map(contract.series.map((s) => [s.name, s]));
  for (const family of parsed.families.values()) {
    const spec = byName.get(family.name);
    if (!spec) {
      problems.push({ kind: 'unknown', series: family.name, detail: 'series is not in the metrics contract' });
      continue;
    }
    problems.push(...checkFamily(family, { ...spec, labels: { ...contract.every_series_labels, ...spec.labels } }));
  }
  for (const spec of contract.series) {
    if (spec.required && !parsed.families.has(spec.name)) {
      problems.push({ kind: 'missing', series: spec.name, detail: 'required series absent from the scrape' });
    }
  }
  return problems;
}

function checkFamily(family: Family, spec: SeriesContract): LintProblem[] {
  const problems: LintProblem[] = [];
  const name = family.name;
  if (family.type !== spec.type) problems.push({ kind: 'type', series: name, detail: `type ${family.type ?? 'untyped'}, contract says ${spec.type}` });
  if (family.help !== spec.help) problems.push({ kind: 'help', series: name, detail: `help ${JSON.stringify(family.help)} differs from the contract` });
  const allowed = new Set([...Object.keys(spec.labels), ...IMPLICIT_LABELS[spec.type]]);
  const seen = new Map<string, Set<string>>();
  for (const sample of family.samples) {
    for (const [label, value] of Object.entries(sample.labels)) {
      if (!allowed.has(label)) {
        if (!seen.has(label)) problems.push({ kind: 'label', series: name, detail: `label "${label}" is not in the contract` });
      }
      let values = seen.get(label);
      if (!values) seen.set(label, (values = new Set()));
      values.add(value);
    }
  }
  for (const [label, budget] of Object.entries(spec.labels)) {
    const count = seen.get(label)?.size ?? 0;
    if (count > budget) problems.push({ kind: 'budget', series: name, detail: `label "${label}" has ${count} values, budget ${budget}` });
  }
  return problems;
}

/** Naming rules every contract entry must follow (Prometheus naming best practices). */
export function lintContract(contract: MetricsContract): LintProblem[] {
  const problems: LintProblem[] = [];
  const names = new Set<string>();
  for (const s of contract.series) {
    const bad = (detail: string) => problems.push({ kind: 'naming', series: s.name, detail });
    if (names.has(s.name)) bad('listed twice');
    names.add(s.name);
    if (!s.name.startsWith(contract.prefix)) bad(`does not start with ${contract.prefix}`);
    if (s.help.trim() === '') bad('empty help');
    for (const [label, budget] of Object.entries(s.labels)) {
      if (!Number.isInteger(budget) || budget < 1) bad(`label "${label}" needs a positive integer budget`);
      if (/(^|_)(task|session|correlation|request)_?id$/.test(label)) bad(`label "${label}" is unbounded`);
    }
    // prom-client's process defaults keep their upstream names (some gauges end in _total).
    if (s.group === 'process') continue;
    if (!/^[a-z_][a-z0-9_]*$/.test(s.name)) bad('not snake_case');
    if ((s.type === 'counter') !== s.name.endsWith('_total')) bad('counters, and only counters, end in _total');
    const suffix = UNIT_SUFFIX[s.unit];
    if (suffix !== undefined && !s.name.replace(/_total$/, '').endsWith(suffix)) bad(`unit ${s.unit} but name does not end in ${suffix}`);
    if (/_(milliseconds|ms|kilobytes|megabytes)\b/.test(s.name)) bad('not a base unit');
  }
  return problems;
}

const TYPES: readonly string[] = ['counter', 'gauge', 'histogram', 'summary'];

/** Narrows parsed JSON (ci/metrics.lint.json) to a contract, or throws naming the bad entry. */
export function asMetricsContract(value: unknown): MetricsContract {
  const fail = (what: string): never => {
    throw new Error(`metrics contract: ${what}`);
  };
  if (typeof value !== 'object' || value === null) return fail('not an object');
  const { prefix, series, every_series_labels: everySeries } = value as { prefix?: unknown; series?: unknown; every_series_labels?: unknown };
  if (typeof prefix !== 'string' || !Array.isArray(series)) return fail('needs "prefix" and "series"');
  const budgets = (labels: unknown): boolean => typeof labels === 'object' && labels !== null && Object.values(labels).every((b) => typeof b === 'number');
  if (everySeries !== undefined && !budgets(everySeries)) return fail('"every_series_labels" is malformed');
  for (const [i, s] of series.entries()) {
    const e = s as Partial<Record<keyof SeriesContract, unknown>>;
    const ok =
      typeof e.name === 'string' && typeof e.type === 'string' && TYPES.includes(e.type) && typeof e.unit === 'string' &&
      typeof e.help === 'string' && typeof e.required === 'boolean' && typeof e.labels === 'object' && e.labels !== null &&
      Object.values(e.labels).every((b) => typeof b === 'number');
    if (!ok) fail(`series[${i}] is malformed`);
  }
  // Each entry was checked field by field above.
  return { prefix, series: series as SeriesContract[], ...(everySeries === undefined ? {} : { every_series_labels: everySeries as Record<string, number> }) };
}

/** The repository's metrics contract, ci/metrics.lint.json, read and checked (tests and CI only). */
export function readMetricsContract(): MetricsContract {
  return asMetricsContract(JSON.parse(readFileSync(new URL('../../ci/metrics.lint.json', import.meta.url), 'utf8')));
}
