import { describe, expect, it } from 'vitest';
import type { AdmittedFact, PlacedFact, TaskFacts, TerminalFact } from '../core/observer.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { lintExposition, readMetricsContract } from '../../tools/metrics-lint/metrics-lint.ts';
import { parsePromText, sampleValue, type ParsedExposition } from './prom-text.ts';
import type { TelemetrySnapshot } from './snapshot.ts';

const contract = readMetricsContract();

const task = (id: string, over: Partial<TaskFacts> = {}): TaskFacts => ({
  task_id: id, pool_id: 'p1', priority: 'interactive', correlation_id: `c-${id}`, max_tokens: 64, ...over,
});
const admitted = (id: string, over: Partial<TaskFacts> = {}): AdmittedFact => ({ ...task(id, over), queue_position: 0, predicted_start_ms: 0, policy_label: 'reject' });
const placed = (id: string, attempt = 1, over: Partial<TaskFacts> = {}): PlacedFact => ({
  ...task(id, over), replica_id: 'r1', engine: 'mock', queue_wait_ms: 30, decision: 'least-loaded', attempt,
});
const finished = (id: string, over: Partial<TerminalFact> = {}): TerminalFact => ({
  ...task(id), state: 'completed', finish_reason: 'stop', replica_id: 'r1', engine: 'mock', tokens_out: 10, prompt_tokens: 5,
  queue_wait_ms: 30, decode_time_ms: 400, e2e_ms: 500, ...over,
});

const snapshot = (): TelemetrySnapshot => ({
  pools: [{
    pool_id: 'p1', engine: 'llamacpp', queue: { interactive: 3, batch: 7 },
    replicas: [
      { replica_id: 'r1', state: 'ready', engine_version: 'b5000', slots_total: 4, slots_busy: 2, breaker: 'closed', engine_metrics: { kv_cache_usage_ratio: 0.25, requests_waiting: 1, requests_running: 2 } },
      { replica_id: 'r2', state: 'draining', slots_total: 4, slots_busy: 0, breaker: 'open' },
    ],
  }],
  open_streams: 5,
  retained_task_bytes: 123_456,
});

async function scrape(m: Metrics): Promise<{ text: string; parsed: ParsedExposition }> {
  const text = await m.registry.metrics();
  return { text, parsed: parsePromText(text) };
}

function driveOneDay(m: Metrics): void {
  for (const id of ['a', 'b', 'c']) m.admitted(admitted(id));
  m.admitted(admitted('d', { priority: 'batch' }));
  m.rejected({ correlation_id: 'c-x', code: 'ADMISSION_REJECT', pool_id: 'p1', message: 'queue full' });
  m.rejected({ correlation_id: 'c-y', code: 'UNAUTHORIZED', message: 'no token' });
  m.backpressure('p1', 'reject');
  m.placed(placed('a'));
  m.placed(placed('b'));
  m.placed(placed('b', 2)); // retry after a reset before the first token
  m.firstToken({ ...task('a'), replica_id: 'r1', engine: 'mock', ttft_ms: 120 });
  m.finished(finished('a'));
  m.finished(finished('b', { state: 'failed', finish_reason: undefined, error_code: 'WORKER_RESET', tokens_out: 0, prompt_tokens: undefined }));
  m.finished(finished('c', { state: 'canceled', cancel_reason: 'client', replica_id: undefined, tokens_out: 0, prompt_tokens: undefined }));
  m.finished(finished('d', { state: 'canceled', cancel_reason: 'something-new', priority: 'batch', replica_id: undefined, tokens_out: 0 }));
  m.streamOpened({ task_id: 'a', resumed: false });
  m.streamOpened({ task_id: 'a', resumed: true });
  m.httpObserve('/v1/tasks', 'POST', 202, 0.004);
  m.httpObserve('/v1/tasks/:id/events', 'get', 200, 1.5);
  m.httpObserve('', 'BREW', 404, 0.001);
  m.control({ action: 'drain', actor: 'ops', target: 'p1/r2', outcome: 'accepted' });
}

describe('createMetrics', () => {
  it('produces a scrape that passes the metrics contract after synthetic traffic', async () => {
    const m = createMetrics({ snapshot });
    m.auditStatus(() => ({ lag_seconds: 0.5, gaps_total: 2, pending: 7, head: { seq: 3, hash: 'ab'.repeat(32) } }));
    driveOneDay(m);
    const { text } = await scrape(m);
    expect(lintExposition(text, contract)).toEqual([]);
  });

  it('moves each counter by exactly the facts it was given', async () => {
    const m = createMetrics({ snapshot, collectDefaults: false });
    driveOneDay(m);
    const { parsed } = await scrape(m);
    const v = (name: string, labels: Record<string, string> = {}) => sampleValue(parsed, name, labels);
    expect(v('orchqueue_tasks_enqueued_total', { pool: 'p1', priority: 'interactive' })).toBe(3);
    expect(v('orchqueue_tasks_enqueued_total', { pool: 'p1', priority: 'batch' })).toBe(1);
    expect(v('orchqueue_tasks_started_total', { pool: 'p1', priority: 'interactive' })).toBe(2);
    expect(v('orchqueue_dispatch_retries_total', { pool: 'p1' })).toBe(1);
    expect(v('orchqueue_tasks_completed_total', { outcome: 'completed' })).toBe(1);
    expect(v('orchqueue_tasks_completed_total', { outcome: 'failed' })).toBe(1);
    expect(v('orchqueue_tasks_completed_total', { outcome: 'canceled', priority: 'interactive' })).toBe(1);
    expect(v('orchqueue_tasks_canceled_total', { reason: 'client' })).toBe(1);
    expect(v('orchqueue_tasks_canceled_total', { reason: 'other' })).toBe(1);
    expect(v('orchqueue_tasks_rejected_total', { pool: 'p1', reason: 'ADMISSION_REJECT' })).toBe(1);
    expect(v('orchqueue_tasks_rejected_total', { pool: 'none', reason: 'UNAUTHORIZED' })).toBe(1);
    expect(v('orchqueue_task_errors_total', { code: 'WORKER_RESET' })).toBe(1);
    expect(v('orchqueue_tokens_out_total', { pool: 'p1' })).toBe(10);
    expect(v('orchqueue_tokens_in_total', { pool: 'p1' })).toBe(5 + 5);
    expect(v('orchqueue_backpressure_events_total', { policy: 'reject' })).toBe(1);
    expect(v('orchqueue_sse_stream_resumes_total')).toBe(1);
    expect(v('orchqueue_control_actions_total', { action: 'drain', outcome: 'accepted' })).toBe(1);
  });

  it('adds the USD of each priced task to the cost counter by pool and model, and counts unpriced tasks apart', async () => {
    const m = createMetrics({ snapshot, collectDefaults: false });
    m.finished(finished('a', { model: 'sonnet', cost_usd: 0.0105, cost_source: 'price_table' }));
    m.finished(finished('b', { model: 'sonnet', cost_usd: 0.02, cost_source: 'reported' }));
    m.finished(finished('c', { pool_id: 'p2', model: 'llama', cost_source: 'unpriced' }));
    m.finished(finished('d', { state: 'canceled', replica_id: undefined }));
    const { parsed, text } = await scrape(m);
    expect(sampleValue(parsed, 'orchqueue_cost_usd_total', { pool: 'p1', model: 'sonnet' })).toBeCloseTo(0.0305, 12);
    expect(sampleValue(parsed, 'orchqueue_unpriced_tasks_total', { pool: 'p2' })).toBe(1);
    expect(sampleValue(parsed, 'orchqueue_unpriced_tasks_total', { pool: 'p1' })).toBeUndefined();
    expect(text).not.toContain('orchqueue_cost_usd_total{pool="p2"');
  });

  it('observes histograms in seconds and only for tasks that reached the step', async () => {
    const m = createMetrics({ snapshot, collectDefaults: false });
    driveOneDay(m);
    const { parsed } = await scrape(m);
    const v = (name: string, labels: Record<string, string> = {}) => sampleValue(parsed, name, labels);
    expect(v('orchqueue_queue_wait_seconds_count', { priority: 'interactive' })).toBe(2);
    expect(v('orchqueue_queue_wait_seconds_sum', { priority: 'interactive' })).toBeCloseTo(0.06);
    expect(v('orchqueue_queue_wait_seconds_bucket', { priority: 'interactive', le: '0.025' })).toBe(0);
    expect(v('orchqueue_queue_wait_seconds_bucket', { priority: 'interactive', le: '0.05' })).toBe(2);
    expect(v('orchqueue_time_to_first_token_seconds_sum')).toBeCloseTo(0.12);
    expect(v('orchqueue_decode_duration_seconds_count')).toBe(2); // a and b ran; c and d never left the queue
    expect(v('orchqueue_task_duration_seconds_count', { outcome: 'canceled', priority: 'batch' })).toBe(1);
    expect(v('orchqueue_http_request_duration_seconds_count', { route: '/v1/tasks/:id/events', method: 'GET', status_class: '2xx' })).toBe(1);
    expect(v('orchqueue_http_request_duration_seconds_count', { route: 'unmatched', method: 'OTHER', status_class: '4xx' })).toBe(1);
  });

  it('reads gauges from the snapshot at scrape time and forgets replicas that left', async () => {
    let snap = snapshot();
    const m = createMetrics({ snapshot: () => snap, collectDefaults: false });
    let { parsed } = await scrape(m);
    const v = (name: string, labels: Record<string, string> = {}) => sampleValue(parsed, name, labels);
    expect(v('orchqueue_queue_depth', { pool: 'p1', priority: 'batch' })).toBe(7);
    expect(v('orchqueue_replica_up', { replica: 'r1' })).toBe(1);
    expect(v('orchqueue_replica_up', { replica: 'r2' })).toBe(0);
    expect(v('orchqueue_replica_state', { replica: 'r2', state: 'draining' })).toBe(1);
    expect(v('orchqueue_replica_state', { replica: 'r2', state: 'ready' })).toBe(0);
    expect(v('orchqueue_replica_slots_busy', { replica: 'r1' })).toBe(2);
    expect(v('orchqueue_replica_breaker_state', { replica: 'r2' })).toBe(2);
    expect(v('orchqueue_engine_info', { replica: 'r1', engine: 'llamacpp', engine_version: 'b5000' })).toBe(1);
    expect(v('orchqueue_engine_info', { replica: 'r2', engine_version: 'unknown' })).toBe(1);
    expect(v('orchqueue_engine_kv_cache_usage_ratio', { replica: 'r1' })).toBe(0.25);
    expect(v('orchqueue_engine_kv_cache_usage_ratio', { replica: 'r2' })).toBeUndefined();
    expect(v('orchqueue_sse_streams_open')).toBe(5);
    expect(v('orchqueue_retained_task_bytes')).toBe(123_456);

    snap = { ...snapshot(), pools: [{ ...snapshot().pools[0]!, replicas: snapshot().pools[0]!.replicas.slice(0, 1) }] };
    ({ parsed } = await scrape(m));
    expect(v('orchqueue_replica_up', { replica: 'r2' })).toBeUndefined();
    expect(v('orchqueue_replica_up', { replica: 'r1' })).toBe(1);
  });

  it('takes one snapshot per scrape, not one per gauge', async () => {
    let calls = 0;
    const m = createMetrics({ snapshot: () => (calls++, snapshot()), collectDefaults: false });
    await m.registry.metrics();
    expect(calls).toBe(1);
    await m.registry.metrics();
    expect(calls).toBe(2);
  });

  it('exposes audit series only once the audit status reader is installed', async () => {
    const m = createMetrics({ snapshot, collectDefaults: false });
    expect((await scrape(m)).parsed.families.has('orchqueue_audit_lag_seconds')).toBe(false);
    let gaps = 2;
    m.auditStatus(() => ({ lag_seconds: 1.25, gaps_total: gaps, pending: 9, head: { seq: 9730, hash: `0000000000ff${'e'.repeat(52)}` } }));
    let { parsed } = await scrape(m);
    expect(sampleValue(parsed, 'orchqueue_audit_head_seq')).toBe(9730);
    expect(sampleValue(parsed, 'orchqueue_audit_head_hash_prefix')).toBe(255);
    expect(sampleValue(parsed, 'orchqueue_audit_lag_seconds')).toBe(1.25);
    expect(sampleValue(parsed, 'orchqueue_audit_pending_records')).toBe(9);
    expect(sampleValue(parsed, 'orchqueue_audit_gaps_total')).toBe(2);
    gaps = 3;
    ({ parsed } = await scrape(m));
    expect(sampleValue(parsed, 'orchqueue_audit_gaps_total')).toBe(3);
  });
});

describe('the tenant label', () => {
  const valuesOf = (parsed: ParsedExposition, name: string) => parsed.families.get(name)?.samples.map((s) => s.labels.tenant) ?? [];

  // Issue 12: tenant as a label only where the cardinality is bounded by config.
  it('counts each tenant’s admitted, rejected, completed tasks and tokens under its own value', async () => {
    const m = createMetrics({ snapshot, collectDefaults: false, tenantLabels: { listed: [], max: 20 } });
    m.admitted(admitted('a', { tenant: 'acme' }));
    m.admitted(admitted('b', { tenant: 'acme' }));
    m.admitted(admitted('c', { tenant: 'globex' }));
    m.rejected({ correlation_id: 'c-r', code: 'RATE_LIMITED', pool_id: 'p1', message: 'quota', tenant: 'globex', limit: 'requests_per_minute' });
    m.rejected({ correlation_id: 'c-u', code: 'UNAUTHORIZED', message: 'no key' });
    m.finished({ ...finished('a'), tenant: 'acme', tokens_out: 7, prompt_tokens: 3 });
    m.finished({ ...finished('c'), tenant: 'globex', tokens_out: 11, prompt_tokens: 4 });
    const { parsed } = await scrape(m);
    const v = (name: string, labels: Record<string, string>) => sampleValue(parsed, name, labels);
    expect(v('orchqueue_tasks_enqueued_total', { tenant: 'acme' })).toBe(2);
    expect(v('orchqueue_tasks_enqueued_total', { tenant: 'globex' })).toBe(1);
    expect(v('orchqueue_tasks_rejected_total', { tenant: 'globex', reason: 'RATE_LIMITED' })).toBe(1);
    expect(v('orchqueue_tasks_rejected_total', { tenant: 'none', pool: 'none', reason: 'UNAUTHORIZED' })).toBe(1);
    expect(v('orchqueue_tasks_completed_total', { tenant: 'acme', outcome: 'completed' })).toBe(1);
    expect(v('orchqueue_tokens_out_total', { tenant: 'acme' })).toBe(7);
    expect(v('orchqueue_tokens_out_total', { tenant: 'globex' })).toBe(11);
    expect(v('orchqueue_tokens_in_total', { tenant: 'globex' })).toBe(4);
  });

  it('gives the 21st tenant seen the value other under the default budget of 20', async () => {
    const m = createMetrics({ snapshot, collectDefaults: false });
    for (let i = 0; i < 25; i++) m.admitted(admitted(`t${i}`, { tenant: `tenant-${i}` }));
    const { parsed } = await scrape(m);
    const seen = valuesOf(parsed, 'orchqueue_tasks_enqueued_total');
    expect(seen).toHaveLength(21);
    expect(seen).toContain('tenant-19');
    expect(seen).not.toContain('tenant-20');
    expect(sampleValue(parsed, 'orchqueue_tasks_enqueued_total', { tenant: 'other' })).toBe(5);
  });

  it('keeps listed tenants by name after the first-come slots are taken', async () => {
    const m = createMetrics({ snapshot, collectDefaults: false, tenantLabels: { listed: ['gold'], max: 2 } });
    for (const tenant of ['a', 'b', 'c', 'gold']) m.finished({ ...finished(tenant), tenant, tokens_out: 1 });
    const { parsed } = await scrape(m);
    expect(valuesOf(parsed, 'orchqueue_tokens_out_total').sort()).toEqual(['a', 'gold', 'other']);
    expect(sampleValue(parsed, 'orchqueue_tokens_out_total', { tenant: 'other' })).toBe(2);
  });
});
