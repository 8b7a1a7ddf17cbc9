// The Grafana dashboard and the Prometheus alert rules use only series that exist: every
// PromQL expression is scanned and each metric and label checked against the metrics contract.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { readMetricsContract } from '../../tools/metrics-lint/metrics-lint.ts';
import { checkPromQL, scanPromQL } from '../../tools/metrics-lint/promql-names.ts';

const repo = (path: string) => new URL(`../../${path}`, import.meta.url);
const contract = readMetricsContract();

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string; refId: string }[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown }[] };
}
interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const dashboard = JSON.parse(readFileSync(repo('ci/dashboards/orchqueue.json'), 'utf8')) as Dashboard;
const rules = (parseYaml(readFileSync(repo('ci/alerts/orchqueue.rules.yml'), 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

/** Grafana variables are not PromQL; give them values the scanner reads as plain text. */
const fromGrafana = (expr: string) => expr.replaceAll('$__rate_interval', '5m');
const panelExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `${p.title} ${t.refId}`, expr: fromGrafana(t.expr) })));

describe('ci/dashboards/orchqueue.json', () => {
  // ORCH-0805
  it.each(panelExprs)('$where uses only contract series and labels', ({ expr }) => {
    expect(checkPromQL(expr, contract)).toEqual([]);
  });

  it('takes its pool variable from a contract series and label', () => {
    const pool = dashboard.templating.list.find((v) => v.name === 'pool');
    const query = (pool?.query as { query: string }).query;
    const m = /^label_values\((\w+),\s*(\w+)\)$/.exec(query);
    expect(m).not.toBeNull();
    const series = contract.series.find((s) => s.name === m?.[1]);
    expect(series?.labels).toHaveProperty(m?.[2] ?? '');
  });

  it('shows queue pressure, latency, throughput, tokens, engine health, backpressure and audit lag', () => {
    const used = new Set(panelExprs.flatMap(({ expr }) => scanPromQL(expr).selectors.map((s) => s.metric)));
    for (const metric of [
      'orchqueue_queue_depth', 'orchqueue_queue_wait_seconds_bucket', 'orchqueue_time_to_first_token_seconds_bucket',
      'orchqueue_task_duration_seconds_bucket', 'orchqueue_tasks_completed_total', 'orchqueue_tokens_out_total',
      'orchqueue_replica_up', 'orchqueue_replica_breaker_state', 'orchqueue_engine_info', 'orchqueue_backpressure_events_total',
      'orchqueue_audit_lag_seconds',
    ]) expect(used, metric).toContain(metric);
  });

  it('has unique panel ids and no overlapping panels', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });
});

describe('ci/alerts/orchqueue.rules.yml', () => {
  // ORCH-0805
  it.each(rules.map((r) => ({ name: r.alert ?? r.record ?? '?', expr: r.expr })))('$name uses only contract series and labels', ({ expr }) => {
    expect(checkPromQL(expr, contract)).toEqual([]);
  });

  it('gives every alert a unique name, a severity, a summary and a valid duration', () => {
    const names = rules.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const rule of rules) {
      expect(rule.alert, rule.expr).toMatch(/^OrchQueue[A-Za-z0-9]+$/);
      expect(['critical', 'warning', 'info']).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      if (rule.for !== undefined) expect(rule.for).toMatch(/^\d+[smhd]$/);
    }
  });
});
