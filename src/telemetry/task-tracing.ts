// Wires the span helpers into the gateway: an HTTP span per request (Fastify hooks), and per
// task the admission, queue-wait, dispatch and engine-call spans driven by lifecycle facts.
// The engine call's `traceparent` is handed to the dispatcher through `engineTraceparent`.
// With tracing off and no client `traceparent`, nothing is kept: no map entry, no span.

import type { Context } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LifecycleObserver } from '../core/observer.ts';
import { endSpan, SPAN_NAMES, startEngineCallSpan, startHttpSpan, startTaskSpan, type TracedSpan } from './spans.ts';
import type { Tracing } from './tracing.ts';

interface RequestTrace {
  context: Context;
  /** When the request arrived (epoch ms): where its admission span starts. */
  startMs: number;
  /**
   * Tasks of this request that ended before their admission fact arrived (evicted or shut down
   * while the admission row was being written): their admission is recorded, nothing is kept.
   */
  endedEarly?: Set<string>;
}

interface TaskTrace {
  parent: Context;
  queueWait?: TracedSpan;
  dispatch?: TracedSpan;
  engineCall?: TracedSpan;
  traceparent?: string;
}

export interface TaskTracing extends LifecycleObserver {
  /** Registers the HTTP request span hooks (a plugin that applies to every route). */
  plugin: (app: FastifyInstance) => Promise<void>;
  /** The `traceparent` to send to the engine for this task, if it is traced. */
  engineTraceparent(taskId: string): string | undefined;
  /** Whether the open request with this correlation id is traced (its task's engine call will be). */
  traced(correlationId: string): boolean;
  /** Requests and tasks with trace state held now (0 when nothing is in flight). */
  readonly held: { requests: number; tasks: number };
}

declare module 'fastify' {
  interface FastifyRequest {
    traceSpan?: TracedSpan;
  }
}

export function createTaskTracing(tracing: Tracing): TaskTracing {
  /** HTTP request contexts (and arrival times) by correlation id, only while the request is open. */
  const requests = new Map<string, RequestTrace>();
  const tasks = new Map<string, TaskTrace>();
  const traced = (req: FastifyRequest) => tracing.enabled || req.headers.traceparent !== undefined;

  const endTask = (id: string, outcome: Record<string, string | number | undefined>) => {
    const t = tasks.get(id);
    if (!t) return;
    tasks.delete(id);
    if (t.queueWait) endSpan(t.queueWait.span);
    if (t.engineCall) endSpan(t.engineCall.span, outcome);
    if (t.dispatch) endSpan(t.dispatch.span, outcome);
  };

  const plugin = async (app: FastifyInstance) => {
    app.addHook('onRequest', async (req, reply) => {
      if (!traced(req)) return;
      const route = req.routeOptions.url ?? 'unknown';
      req.traceSpan = startHttpSpan(tracing.tracer, { method: req.method, route, headers: req.headers });
      // Read after the HTTP span started, so the admission span never starts before its parent.
      requests.set(String(req.id), { context: req.traceSpan.context, startMs: Date.now() });
      // 'close' covers hijacked SSE responses too, which never reach onResponse.
      reply.raw.once('close', () => finishRequest(req, reply.raw.statusCode));
    });
  };
  // Like fastify-plugin: the hooks must see every route, not only this plugin's own.
  Object.assign(plugin, { [Symbol.for('skip-override')]: true });

  function finishRequest(req: FastifyRequest, status: number): void {
    const span = req.traceSpan;
    if (!span) return;
    req.traceSpan = undefined;
    // A client may reuse its correlation id on concurrent requests: only remove our own entry.
    if (requests.get(String(req.id))?.context === span.context) requests.delete(String(req.id));
    endSpan(span.span, { http_status: status });
  }

  return {
    plugin,
    engineTraceparent: (id) => tasks.get(id)?.traceparent,
    traced: (correlationId) => requests.has(correlationId),
    get held() {
      return { requests: requests.size, tasks: tasks.size };
    },
    // The facts arrive once admission is decided (after the audit commit), so the admission span
    // is recorded after the fact from the request's arrival: validation, planning and the commit.
    admitted(f) {
      const request = requests.get(f.correlation_id);
      if (!request) return;
      const parent = request.context;
      const attrs = { task_id: f.task_id, pool_id: f.pool_id, priority: f.priority, tenant: f.tenant, key_id: f.key_id };
      endSpan(startTaskSpan(tracing.tracer, SPAN_NAMES.admission, parent, attrs, request.startMs).span, { outcome: 'admitted' });
      // A task that already ended gets no queue-wait span: its `finished` came first and will not come again.
      if (request.endedEarly?.delete(f.task_id)) return;
      tasks.set(f.task_id, { parent, queueWait: startTaskSpan(tracing.tracer, SPAN_NAMES.queueWait, parent, attrs) });
    },
    rejected(f) {
      const request = requests.get(f.correlation_id);
      if (!request) return;
      const attrs = { pool_id: f.pool_id, priority: f.priority, tenant: f.tenant, key_id: f.key_id };
      const span = startTaskSpan(tracing.tracer, SPAN_NAMES.admission, request.context, attrs, request.startMs);
      endSpan(span.span, { outcome: 'rejected', error_code: f.code });
    },
    placed(f) {
      const t = tasks.get(f.task_id);
      if (!t) return;
      if (t.queueWait) endSpan(t.queueWait.span);
      t.queueWait = undefined;
      if (t.engineCall) endSpan(t.engineCall.span, { outcome: 'replaced' });
      if (t.dispatch) endSpan(t.dispatch.span, { outcome: 'replaced' });
      const attrs = { task_id: f.task_id, pool_id: f.pool_id, replica_id: f.replica_id, engine: f.engine, attempt: f.attempt };
      t.dispatch = startTaskSpan(tracing.tracer, SPAN_NAMES.dispatch, t.parent, attrs);
      const call = startEngineCallSpan(tracing.tracer, t.dispatch.context, attrs);
      t.engineCall = call;
      t.traceparent = call.headers.traceparent;
    },
    finished(f) {
      if (!tasks.has(f.task_id)) {
        const request = requests.get(f.correlation_id);
        if (request) (request.endedEarly ??= new Set()).add(f.task_id);
        return;
      }
      endTask(f.task_id, {
        outcome: f.state,
        tokens_out: f.tokens_out,
        ...(f.prompt_tokens !== undefined ? { tokens_in: f.prompt_tokens } : {}),
        ...(f.error_code !== undefined ? { error_code: f.error_code } : {}),
      });
    },
  };
}
