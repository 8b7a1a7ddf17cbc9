// The spans of one request and its task: HTTP request (server) → admission, queue wait,
// dispatch → engine call (client). Parents are passed explicitly, never taken from async
// context, because a task's steps run in callbacks far from the request that admitted it.
// W3C trace context is read with the propagator directly so it passes through to engines
// even when tracing is off (the no-op tracer keeps the client's span context).

import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

export type HeaderBag = Readonly<Record<string, string | string[] | undefined>>;

export interface TracedSpan {
  span: Span;
  /** Context carrying this span: the parent for its children. */
  context: Context;
}

/** Task facts a span may carry; names follow `orchqueue.*` and the GenAI token conventions. */
export interface TaskSpanAttrs {
  task_id?: string;
  pool_id?: string;
  priority?: string;
  replica_id?: string;
  engine?: string;
  attempt?: number;
  tokens_in?: number;
  tokens_out?: number;
  outcome?: string;
  error_code?: string;
  /** The owning tenant and the submitting key id (never the key), issue 12. */
  tenant?: string;
  key_id?: string;
}

const ATTRIBUTE_NAMES: Readonly<Record<keyof TaskSpanAttrs, string>> = {
  task_id: 'orchqueue.task_id',
  pool_id: 'orchqueue.pool_id',
  priority: 'orchqueue.priority',
  replica_id: 'orchqueue.replica_id',
  engine: 'orchqueue.engine',
  attempt: 'orchqueue.attempt',
  tokens_in: 'gen_ai.usage.input_tokens',
  tokens_out: 'gen_ai.usage.output_tokens',
  outcome: 'orchqueue.outcome',
  error_code: 'error.type',
  tenant: 'orchqueue.tenant',
  key_id: 'orchqueue.key_id',
};

export const SPAN_NAMES = {
  admission: 'orchqueue.admission',
  queueWait: 'orchqueue.queue_wait',
  dispatch: 'orchqueue.dispatch',
  engineCall: 'orchqueue.engine_call',
} as const;

const w3c = new W3CTraceContextPropagator();
const headerGetter = {
  keys: (carrier: HeaderBag) => Object.keys(carrier),
  get: (carrier: HeaderBag, key: string) => carrier[key],
};

function toAttributes(attrs: TaskSpanAttrs): Attributes {
  const out: Attributes = {};
  for (const key of Object.keys(attrs) as (keyof TaskSpanAttrs)[]) {
    const value = attrs[key];
    if (value !== undefined) out[ATTRIBUTE_NAMES[key]] = value;
  }
  return out;
}

/** The client's W3C trace context (`traceparent`, `tracestate`), or the root context. Header names lower-case, as Node gives them. */
export function extractTraceContext(headers: HeaderBag): Context {
  return w3c.extract(ROOT_CONTEXT, headers, headerGetter);
}

/** Headers to send to an engine so its spans join the trace; empty when there is no trace. */
export function traceHeaders(ctx: Context): Record<string, string> {
  const carrier: Record<string, string> = {};
  w3c.inject(ctx, carrier, { set: (c, k, v) => (c[k] = v) });
  return carrier;
}

function start(tracer: Tracer, name: string, parent: Context, kind: SpanKind, attributes: Attributes, startTime?: number): TracedSpan {
  const span = tracer.startSpan(name, { kind, attributes, ...(startTime !== undefined && { startTime }) }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

/** The server span of one HTTP request, child of the client's `traceparent` when present. */
export function startHttpSpan(tracer: Tracer, req: { method: string; route: string; headers: HeaderBag }): TracedSpan {
  return start(tracer, `${req.method} ${req.route}`, extractTraceContext(req.headers), SpanKind.SERVER, {
    'http.request.method': req.method,
    'http.route': req.route,
  });
}

/** Admission, queue wait or dispatch: an internal step under the request (or the previous step). `startTime` in epoch ms lets a step be recorded after the fact. */
export function startTaskSpan(tracer: Tracer, name: (typeof SPAN_NAMES)[Exclude<keyof typeof SPAN_NAMES, 'engineCall'>], parent: Context, attrs: TaskSpanAttrs, startTime?: number): TracedSpan {
  return start(tracer, name, parent, SpanKind.INTERNAL, toAttributes(attrs), startTime);
}

/** The client span around the engine call, with the headers that carry it to the engine. */
export function startEngineCallSpan(tracer: Tracer, parent: Context, attrs: TaskSpanAttrs): TracedSpan & { headers: Record<string, string> } {
  const traced = start(tracer, SPAN_NAMES.engineCall, parent, SpanKind.CLIENT, toAttributes(attrs));
  return { ...traced, headers: traceHeaders(traced.context) };
}

/** Ends a span with the step's result; an error code marks the span as failed. */
export function endSpan(span: Span, result: TaskSpanAttrs & { http_status?: number } = {}, endTime?: number): void {
  const { http_status, ...attrs } = result;
  span.setAttributes(toAttributes(attrs));
  if (http_status !== undefined) span.setAttribute('http.response.status_code', http_status);
  if (attrs.error_code !== undefined || (http_status !== undefined && http_status >= 500)) {
    span.setStatus({ code: SpanStatusCode.ERROR, ...(attrs.error_code !== undefined && { message: attrs.error_code }) });
  }
  span.end(endTime);
}
