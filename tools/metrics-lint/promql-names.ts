// A small PromQL scanner: finds the metric names, label matchers and grouping labels an
// expression uses, so dashboards and alert rules can be checked against the metrics contract.
// Not a parser: it knows just enough syntax (strings, {}, [], keywords, functions, $vars).

import type { MetricsContract, SeriesContract } from './metrics-lint.ts';

export interface SelectorUse {
  metric: string;
  matchers: string[];
}

export interface PromQLUses {
  selectors: SelectorUse[];
  /** Labels named in by / without / on / ignoring / group_left / group_right lists. */
  grouping: string[];
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'atan2', 'inf', 'nan', 'start', 'end']);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
/** Aggregations may put `by (...)` between their name and their parenthesis. */
const AGGREGATIONS = new Set(['sum', 'avg', 'min', 'max', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group', 'limitk', 'limit_ratio']);
const IDENT = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;

/** Series Prometheus itself attaches to every target. */
const PROMETHEUS_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling', 'scrape_series_added']);
const TARGET_LABELS = ['job', 'instance'];

export function scanPromQL(expr: string): PromQLUses {
  const selectors: SelectorUse[] = [];
  const grouping: string[] = [];
  let i = 0;
  let pendingGrouping = false;
  while (i < expr.length) {
    const ch = expr[i] as string;
    if (ch === '"' || ch === "'" || ch === '`') {
      i = skipString(expr, i);
    } else if (ch === '[') {
      i = expr.indexOf(']', i) + 1 || expr.length; // range or subquery duration
    } else if (ch === '$') {
      i = skipVariable(expr, i + 1);
    } else if (/[0-9.]/.test(ch)) {
      i = skipNumber(expr, i);
    } else if (ch === '{') {
      const { end, labels, name } = readMatchers(expr, i + 1);
      if (name !== undefined) selectors.push({ metric: name, matchers: labels.filter((l) => l !== '__name__') });
      i = end;
    } else if (ch === '(' && pendingGrouping) {
      const close = expr.indexOf(')', i);
      grouping.push(...expr.slice(i + 1, close).split(',').map((s) => s.trim()).filter(Boolean));
      pendingGrouping = false;
      i = close + 1;
    } else if (/[a-zA-Z_:]/.test(ch)) {
      IDENT.lastIndex = i;
      const word = (IDENT.exec(expr) as RegExpExecArray)[0]; // ch starts an identifier
      i += word.length;
      const next = expr.slice(i).trimStart()[0];
      if (GROUPING.has(word)) pendingGrouping = true;
      else if (KEYWORDS.has(word.toLowerCase()) || AGGREGATIONS.has(word) || next === '(') continue; // keyword, aggregation or function
      else if (next === '{') {
        const { end, labels } = readMatchers(expr, expr.indexOf('{', i) + 1);
        selectors.push({ metric: word, matchers: labels });
        i = end;
      } else selectors.push({ metric: word, matchers: [] });
    } else {
      i++;
    }
  }
  return { selectors, grouping };
}

function skipString(expr: string, start: number): number {
  const quote = expr[start];
  let i = start + 1;
  while (i < expr.length && expr[i] !== quote) i += expr[i] === '\\' ? 2 : 1;
  return i + 1;
}

function skipVariable(expr: string, i: number): number {
  if (expr[i] === '{') return expr.indexOf('}', i) + 1;
  while (i < expr.length && /[a-zA-Z0-9_]/.test(expr[i] as string)) i++;
  return i;
}

function skipNumber(expr: string, i: number): number {
  while (i < expr.length && /[0-9a-zA-Z.+]/.test(expr[i] as string)) {
    if (expr[i] === '+' && !/[eE]/.test(expr[i - 1] as string)) break;
    i++;
  }
  return i;
}

/** Reads `a="x", b=~"y"}` after `{`; `__name__="m"` names the metric. */
function readMatchers(expr: string, start: number): { end: number; labels: string[]; name?: string } {
  const labels: string[] = [];
  let name: string | undefined;
  let i = start;
  while (i < expr.length && expr[i] !== '}') {
    const m = /^\s*,?\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*/.exec(expr.slice(i));
    if (!m) {
      i++;
      continue;
    }
    i += m[0].length;
    const valueEnd = skipString(expr, i);
    if (m[1] === '__name__' && m[2] === '=') name = expr.slice(i + 1, valueEnd - 1);
    labels.push(m[1] as string);
    i = valueEnd;
  }
  return { end: i + 1, labels, ...(name !== undefined && { name }) };
}

/** The contract entry a sample name belongs to (histograms expose _bucket/_sum/_count). */
export function seriesFor(metric: string, contract: MetricsContract): { spec: SeriesContract; suffix: string } | undefined {
  const exact = contract.series.find((s) => s.name === metric);
  if (exact) return { spec: exact, suffix: '' };
  const m = /^(.*)(_bucket|_sum|_count)$/.exec(metric);
  const base = m ? contract.series.find((s) => s.name === m[1] && (s.type === 'histogram' || (s.type === 'summary' && m[2] !== '_bucket'))) : undefined;
  return base && m ? { spec: base, suffix: m[2] as string } : undefined;
}

/** Problems with one expression: unknown metrics, matchers or grouping on labels no series has. */
export function checkPromQL(expr: string, contract: MetricsContract): string[] {
  const uses = scanPromQL(expr);
  const problems: string[] = [];
  const known = new Set(TARGET_LABELS);
  for (const { metric, matchers } of uses.selectors) {
    if (PROMETHEUS_SERIES.has(metric)) {
      for (const l of TARGET_LABELS) known.add(l);
      continue;
    }
    const found = seriesFor(metric, contract);
    if (!found) {
      problems.push(`unknown metric ${metric}`);
      continue;
    }
    const labels = new Set([...Object.keys(found.spec.labels), ...TARGET_LABELS, ...(found.suffix === '_bucket' ? ['le'] : [])]);
    labels.forEach((l) => known.add(l));
    for (const label of matchers) if (!labels.has(label)) problems.push(`${metric} has no label ${label}`);
  }
  if (uses.selectors.length === 0) problems.push('expression uses no metric');
  for (const label of uses.grouping) if (!known.has(label)) problems.push(`grouping by ${label}, which no metric in the expression has`);
  return problems;
}
