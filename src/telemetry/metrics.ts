// The Prometheus metrics of the gateway: one registry, per-task lifecycle counters and
// histograms fed by LifecycleObserver facts (fast-metrics.ts: under a microsecond per task),
// scrape-time gauges read from a snapshot. Never called per token; label values are bounded
// (no task ids, route templates only, tenants through TenantLabels).

import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { LifecycleObserver, AdmittedFact, RejectedFact, PlacedFact, FirstTokenFact, TerminalFact, ControlFact } from '../core/observer.ts';
import type { ClusterFiguresSource } from '../state/redis/cluster-figures.ts';
import { registerClusterGauges } from './cluster-gauges.ts';
import { FastCounter, FastHistogram } from './fast-metrics.ts';
import { registerSnapshotGauges } from './metrics-gauges.ts';
import type { TelemetrySnapshot } from './snapshot.ts';
import { TenantLabels, type TenantLabelOptions } from './tenant-labels.ts';

export const METRIC_PREFIX = 'orchqueue_';

export interface AuditStatus {
  lag_seconds: number;
  gaps_total: number;
  pending: number;
  /** The committed chain head, for an external witness (docs/operations.md "Witnessing the head"). */
  head?: { seq: number; hash: string };
}

/** The head hash's first 12 hex digits (48 bits) as a number: exact in a float64 sample. */
export const hashPrefixValue = (hash: string): number => Number.parseInt(hash.slice(0, 12), 16);

export interface Metrics extends LifecycleObserver {
  readonly registry: Registry;
  admitted(fact: AdmittedFact): void;
  rejected(fact: RejectedFact): void;
  placed(fact: PlacedFact): void;
  firstToken(fact: FirstTokenFact): void;
  finished(fact: TerminalFact): void;
  control(fact: ControlFact): void;
  streamOpened(fact: { task_id: string; resumed: boolean }): void;
  streamClosed(fact: { task_id: string }): void;
  /** One call per finished HTTP request; `route` is the route template (e.g. `/v1/tasks/:id`). */
  httpObserve(route: string, method: string, statusCode: number, seconds: number): void;
  /** One call each time a queue capacity policy acts: a refusal or an eviction. */
  backpressure(pool_id: string, policy: string): void;
  /** Installs the audit writer's status reader; the audit series exist only after this call. */
  auditStatus(fn: () => AuditStatus): void;
}

export interface MetricsOptions {
  registry?: Registry;
  collectDefaults?: boolean;
  snapshot: () => TelemetrySnapshot;
  /** The bounded `tenant` label (telemetry.tenant_labels, max_tenant_labels); default: 20, none listed. */
  tenantLabels?: TenantLabelOptions;
  /**
   * The redis backend's cluster figures: every series then carries `gateway_replica` (this
   * gateway's state.replica_id) and the orchqueue_cluster_* gauges are served. Absent in memory
   * mode, whose exposition stays as it was.
   */
  cluster?: ClusterFiguresSource;
}

/** The default of telemetry.max_tenant_labels. */
const DEFAULT_MAX_TENANT_LABELS = 20;
const QUEUE_WAIT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const LONG_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

// client_disconnect: a dialect client (OpenAI, Anthropic) went away mid-answer (ORCH-1104);
// orphaned: every reader of a resumable stream was gone for server.orphan_grace_ms.
const CANCEL_REASONS = new Set(['client', 'client_disconnect', 'deadline', 'drain', 'unclaimed', 'orphaned', 'shutdown']);
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** Keeps label values inside their documented budgets whatever the caller passes. */
export const statusClass = (code: number): string => STATUS_CLASSES[Math.floor(code / 100) - 1] ?? '5xx';
export const httpMethod = (method: string): string => (HTTP_METHODS.has(method) ? method : HTTP_METHODS.has(method.toUpperCase()) ? method.toUpperCase() : 'OTHER');
export const cancelReason = (reason: string | undefined): string => (reason !== undefined && CANCEL_REASONS.has(reason) ? reason : 'other');

/** The per-task instruments; names, help and labels are the contract in ci/metrics.lint.json. */
function createInstruments(registry: Registry) {
  const counter = (name: string, help: string, labelNames: string[] = []) => new FastCounter({ name, help, labelNames, registry });
  const histogram = (name: string, help: string, labelNames: string[], buckets: number[]) => new FastHistogram({ name, help, labelNames, buckets, registry });

  const enqueued = counter('orchqueue_tasks_enqueued_total', 'Tasks admitted into a queue.', ['pool', 'priority', 'tenant']);
  const started = counter('orchqueue_tasks_started_total', 'Tasks placed on a replica for the first time.', ['pool', 'priority']);
  const retries = counter('orchqueue_dispatch_retries_total', 'Placements after the first attempt (retry before the first token).', ['pool']);
  const completed = counter('orchqueue_tasks_completed_total', 'Tasks that reached a terminal state, by outcome.', ['pool', 'priority', 'outcome', 'tenant']);
  const canceled = counter('orchqueue_tasks_canceled_total', 'Canceled tasks, by reason.', ['pool', 'reason']);
  const rejected = counter('orchqueue_tasks_rejected_total', 'Requests refused at admission, by error code.', ['pool', 'reason', 'tenant']);
  const errors = counter('orchqueue_task_errors_total', 'Tasks that ended with an error event, by error code.', ['pool', 'code']);
  const tokensIn = counter('orchqueue_tokens_in_total', 'Prompt tokens of finished tasks, as the engine counted them.', ['pool', 'tenant']);
  const tokensOut = counter('orchqueue_tokens_out_total', 'Generated tokens of finished tasks.', ['pool', 'tenant']);
  const cost = counter('orchqueue_cost_usd_total', 'What finished tasks cost in US dollars (provider-reported, else the price table).', ['pool', 'model']);
  const unpriced = counter('orchqueue_unpriced_tasks_total', 'Tasks that ran with no price for their model (cost not known).', ['pool']);
  const backpressure = counter('orchqueue_backpressure_events_total', 'Queue capacity policy actions (refusal or eviction).', ['pool', 'policy']);
  const resumes = counter('orchqueue_sse_stream_resumes_total', 'SSE streams reopened with Last-Event-ID.');
  const controls = counter('orchqueue_control_actions_total', 'Control-plane actions, by action and outcome.', ['action', 'outcome']);
  const queueWait = histogram('orchqueue_queue_wait_seconds', 'Time from admission to first placement.', ['pool', 'priority'], QUEUE_WAIT_BUCKETS);
  const ttft = histogram('orchqueue_time_to_first_token_seconds', 'Time from placement on a replica to the first generated token (queue wait not included).', ['pool', 'priority'], TTFT_BUCKETS);
  const decode = histogram('orchqueue_decode_duration_seconds', 'Time from placement to the terminal event, for tasks that ran.', ['pool'], LONG_BUCKETS);
  const e2e = histogram('orchqueue_task_duration_seconds', 'End-to-end time from admission to the terminal event.', ['pool', 'priority', 'outcome'], LONG_BUCKETS);
  const http = histogram('orchqueue_http_request_duration_seconds', 'HTTP request duration by route template (SSE streams last as long as the stream).', ['route', 'method', 'status_class'], HTTP_BUCKETS);
  return { enqueued, started, retries, completed, canceled, rejected, errors, tokensIn, tokensOut, cost, unpriced, backpressure, resumes, controls, queueWait, ttft, decode, e2e, http };
}

export function createMetrics(opts: MetricsOptions): Metrics {
  const registry = opts.registry ?? new Registry();
  const { enqueued, started, retries, completed, canceled, rejected, errors, tokensIn, tokensOut, cost, unpriced, backpressure, resumes, controls, queueWait, ttft, decode, e2e, http } = createInstruments(registry);
  registerSnapshotGauges(registry, opts.snapshot);
  if (opts.cluster) {
    // The engine replica already owns the `replica` label (docs/metrics.md "Conventions").
    registry.setDefaultLabels({ gateway_replica: opts.cluster.gatewayReplica });
    registerClusterGauges(registry, opts.cluster);
  }
  if (opts.collectDefaults ?? true) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  const tenants = new TenantLabels(opts.tenantLabels ?? { listed: [], max: DEFAULT_MAX_TENANT_LABELS });

  let auditInstalled = false;
  return {
    registry,
    admitted(f) {
      enqueued.add(1, f.pool_id, f.priority, tenants.of(f.tenant));
    },
    rejected(f) {
      rejected.add(1, f.pool_id ?? 'none', f.code, tenants.of(f.tenant));
    },
    placed(f) {
      // `attempt` is 1-based: only the first placement starts the task and ends its queue wait.
      if (f.attempt > 1) {
        retries.add(1, f.pool_id);
        return;
      }
      started.add(1, f.pool_id, f.priority);
      queueWait.observe(f.queue_wait_ms / 1000, f.pool_id, f.priority);
    },
    firstToken(f) {
      ttft.observe(f.ttft_ms / 1000, f.pool_id, f.priority);
    },
    finished(f) {
      const tenant = tenants.of(f.tenant);
      completed.add(1, f.pool_id, f.priority, f.state, tenant);
      if (f.state === 'canceled') canceled.add(1, f.pool_id, cancelReason(f.cancel_reason));
      if (f.error_code !== undefined) errors.add(1, f.pool_id, f.error_code);
      e2e.observe(f.e2e_ms / 1000, f.pool_id, f.priority, f.state);
      if (f.replica_id !== undefined) decode.observe(f.decode_time_ms / 1000, f.pool_id);
      tokensOut.add(f.tokens_out, f.pool_id, tenant);
      if (f.prompt_tokens !== undefined) tokensIn.add(f.prompt_tokens, f.pool_id, tenant);
      if (f.cost_usd !== undefined) cost.add(f.cost_usd, f.pool_id, f.model ?? f.pool_id);
      else if (f.cost_source === 'unpriced') unpriced.add(1, f.pool_id);
    },
    control(f) {
      controls.add(1, f.action, f.outcome);
    },
    streamOpened(f) {
      if (f.resumed) resumes.add(1);
    },
    streamClosed() {
      // The open-stream gauge comes from the snapshot; nothing to count here.
    },
    httpObserve(route, method, statusCode, seconds) {
      http.observe(seconds, route === '' ? 'unmatched' : route, httpMethod(method), statusClass(statusCode));
    },
    backpressure(pool_id, policy) {
      backpressure.add(1, pool_id, policy);
    },
    auditStatus(fn) {
      if (auditInstalled) throw new Error('auditStatus installed twice');
      auditInstalled = true;
      registerAuditMetrics(registry, fn);
    },
  };
}

function registerAuditMetrics(registry: Registry, read: () => AuditStatus): void {
  const registers = [registry];
  new Gauge({
    name: 'orchqueue_audit_lag_seconds',
    help: 'Age of the oldest audit record not yet durably written.',
    registers,
    collect() {
      this.set(read().lag_seconds);
    },
  });
  new Counter({
    name: 'orchqueue_audit_gaps_total',
    help: 'Audit records lost or chain gaps detected since start.',
    registers,
    collect() {
      // The audit writer owns the running total; mirror it rather than double-count.
      this.reset();
      this.inc(read().gaps_total);
    },
  });
  new Gauge({
    name: 'orchqueue_audit_head_seq',
    help: 'Sequence number of the last committed audit row (the chain head).',
    registers,
    collect() {
      this.set(read().head?.seq ?? 0);
    },
  });
  new Gauge({
    name: 'orchqueue_audit_head_hash_prefix',
    help: 'First 48 bits of the chain head hash as an integer, to witness with orchqueue_audit_head_seq.',
    registers,
    collect() {
      const head = read().head;
      this.set(head === undefined ? 0 : hashPrefixValue(head.hash));
    },
  });
  new Gauge({
    name: 'orchqueue_audit_pending_records',
    help: 'Audit records buffered and waiting for the next batch write.',
    registers,
    collect() {
      this.set(read().pending);
    },
  });
}
