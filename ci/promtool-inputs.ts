// Writes what ci/promtool-check.sh hands to promtool into a directory: a sample /metrics
// exposition (synthetic traffic through the real Metrics), the dashboard's PromQL as
// recording rules (so promtool parses every panel query) and the Prometheus config with its
// rule_files pointed at the repository's alert rules.
//   node ci/promtool-inputs.ts <out-dir>

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createMetrics } from '../src/telemetry/metrics.ts';
import type { TelemetrySnapshot } from '../src/telemetry/snapshot.ts';

const out = process.argv[2];
if (!out) throw new Error('usage: node ci/promtool-inputs.ts <out-dir>');
mkdirSync(out, { recursive: true });
const repo = (path: string) => new URL(`../${path}`, import.meta.url);

const snapshot = (): TelemetrySnapshot => ({
  pools: [{ pool_id: 'demo', engine: 'llamacpp', queue: { interactive: 1, batch: 2 }, replicas: [{ replica_id: 'r0', state: 'ready', engine_version: 'b6000', slots_total: 4, slots_busy: 1, breaker: 'closed', engine_metrics: { kv_cache_usage_ratio: 0.3, requests_waiting: 0, requests_running: 1 } }] }],
  open_streams: 1,
  retained_task_bytes: 4096,
});
// Our series only: prom-client's process defaults keep upstream names promtool would flag
// (gauges such as nodejs_active_handles_total end in _total).
const metrics = createMetrics({ snapshot, collectDefaults: false });
metrics.auditStatus(() => ({ lag_seconds: 0.1, gaps_total: 0, pending: 3, head: { seq: 42, hash: 'a'.repeat(64) } }));
const task = { task_id: 't', pool_id: 'demo', priority: 'interactive' as const, correlation_id: 'c', max_tokens: 8 };
metrics.admitted({ ...task, queue_position: 0, predicted_start_ms: 0, policy_label: 'reject' });
metrics.placed({ ...task, replica_id: 'r0', engine: 'llamacpp', queue_wait_ms: 12, decision: 'least-loaded', attempt: 1 });
metrics.firstToken({ ...task, replica_id: 'r0', engine: 'llamacpp', ttft_ms: 80 });
metrics.finished({ ...task, state: 'completed', finish_reason: 'stop', replica_id: 'r0', engine: 'llamacpp', tokens_out: 8, prompt_tokens: 4, queue_wait_ms: 12, decode_time_ms: 300, e2e_ms: 320 });
metrics.rejected({ correlation_id: 'c2', code: 'ADMISSION_REJECT', pool_id: 'demo', message: 'full' });
metrics.backpressure('demo', 'reject');
metrics.httpObserve('/v1/tasks', 'POST', 202, 0.003);
writeFileSync(join(out, 'metrics.prom'), await metrics.registry.metrics());

interface Panel { title: string; targets?: { expr: string; refId: string }[] }
const dashboard = JSON.parse(readFileSync(repo('ci/dashboards/orchqueue.json'), 'utf8')) as { panels: Panel[] };
const rules = dashboard.panels.flatMap((p, i) => (p.targets ?? []).map((t) => ({
  record: `dashboard:panel_${i}_${t.refId.toLowerCase()}`,
  expr: t.expr.replaceAll('$__rate_interval', '5m').replaceAll('$pool', '.*'),
})));
writeFileSync(join(out, 'dashboard.rules.yml'), stringify({ groups: [{ name: 'dashboard-queries', rules }] }));

const config = readFileSync(repo('deploy/prometheus.yml'), 'utf8')
  .replace('/etc/prometheus/rules/*.rules.yml', new URL('ci/alerts/*.rules.yml', repo('')).pathname);
writeFileSync(join(out, 'prometheus.yml'), config);
