// Traces end to end: the OTel SDK exports OTLP/HTTP JSON to a receiver on a loopback port, and
// the span tree of one request (HTTP → admission, queue wait, dispatch → engine call) arrives
// with the client's trace id and the right parent links.

import { afterEach, describe, expect, it } from 'vitest';
import { endSpan, SPAN_NAMES, startEngineCallSpan, startHttpSpan, startTaskSpan, traceHeaders } from '../../src/telemetry/spans.ts';
import { startTracing, tracesEndpoint, type Tracing } from '../../src/telemetry/tracing.ts';
import { spanAttr as attr, startOtlpReceiver, type OtlpReceiver } from './telemetry-otlp-receiver.ts';

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const clientHeaders = { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`, 'content-type': 'application/json' };

let receiver: OtlpReceiver | undefined;
let tracing: Tracing | undefined;
afterEach(async () => {
  await tracing?.shutdown();
  tracing = undefined;
  await receiver?.close();
  receiver = undefined;
});

/** One admitted task as the server and dispatcher would trace it. */
function traceOneTask(t: Tracing): Record<string, string> {
  const http = startHttpSpan(t.tracer, { method: 'POST', route: '/v1/tasks', headers: clientHeaders });
  const task = { task_id: 't-1', pool_id: 'p1', priority: 'interactive' };
  const admission = startTaskSpan(t.tracer, SPAN_NAMES.admission, http.context, task);
  endSpan(admission.span, { outcome: 'admitted' });
  const queued = startTaskSpan(t.tracer, SPAN_NAMES.queueWait, http.context, task);
  endSpan(http.span, { http_status: 202 });
  endSpan(queued.span);
  const dispatch = startTaskSpan(t.tracer, SPAN_NAMES.dispatch, http.context, { ...task, replica_id: 'r1', engine: 'llamacpp', attempt: 1 });
  const call = startEngineCallSpan(t.tracer, dispatch.context, { ...task, replica_id: 'r1', engine: 'llamacpp' });
  endSpan(call.span, { tokens_in: 12, tokens_out: 34, outcome: 'completed' });
  endSpan(dispatch.span, { outcome: 'completed' });
  return call.headers;
}

describe('tracing', () => {
  it('exports the span tree of a request with the client trace id kept and parents linked', async () => {
    receiver = await startOtlpReceiver();
    tracing = startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/` });
    expect(tracing.enabled).toBe(true);
    const engineHeaders = traceOneTask(tracing);
    await tracing.shutdown(); // flushes the batch processor
    tracing = undefined;

    expect(receiver.requests.every((r) => r.path === '/v1/traces' && r.headers['content-type'] === 'application/json')).toBe(true);
    const byName = new Map(receiver.spans.map((s) => [s.name, s]));
    expect([...byName.keys()].sort()).toEqual(['POST /v1/tasks', SPAN_NAMES.admission, SPAN_NAMES.dispatch, SPAN_NAMES.engineCall, SPAN_NAMES.queueWait].sort());
    const http = byName.get('POST /v1/tasks')!;
    const dispatch = byName.get(SPAN_NAMES.dispatch)!;
    const engine = byName.get(SPAN_NAMES.engineCall)!;
    expect(receiver.spans.every((s) => s.traceId === CLIENT_TRACE)).toBe(true);
    expect(http.parentSpanId).toBe(CLIENT_SPAN);
    for (const name of [SPAN_NAMES.admission, SPAN_NAMES.queueWait, SPAN_NAMES.dispatch]) {
      expect(byName.get(name)?.parentSpanId).toBe(http.spanId);
    }
    expect(engine.parentSpanId).toBe(dispatch.spanId);
    expect(http.kind).toBe(2); // SERVER
    expect(engine.kind).toBe(3); // CLIENT
    expect(attr(http, 'http.route')).toBe('/v1/tasks');
    expect(attr(http, 'http.response.status_code')).toBe(202);
    expect(attr(engine, 'orchqueue.task_id')).toBe('t-1');
    expect(attr(engine, 'orchqueue.replica_id')).toBe('r1');
    expect(attr(engine, 'orchqueue.engine')).toBe('llamacpp');
    expect(attr(engine, 'gen_ai.usage.output_tokens')).toBe(34);
    expect(attr(engine, 'orchqueue.outcome')).toBe('completed');
    // The engine is told to continue the trace from the engine-call span.
    expect(engineHeaders.traceparent).toBe(`00-${CLIENT_TRACE}-${engine.spanId}-01`);
  });

  it('marks a span failed when the step ends with an error code', async () => {
    receiver = await startOtlpReceiver();
    tracing = startTracing({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces` });
    const call = startEngineCallSpan(tracing.tracer, startHttpSpan(tracing.tracer, { method: 'POST', route: '/v1/tasks', headers: {} }).context, { task_id: 't-2' });
    endSpan(call.span, { error_code: 'WORKER_RESET', outcome: 'failed' });
    await tracing.shutdown();
    tracing = undefined;
    const engine = receiver.spans.find((s) => s.name === SPAN_NAMES.engineCall);
    expect(engine?.status?.code).toBe(2); // ERROR
    expect(attr(engine!, 'error.type')).toBe('WORKER_RESET');
  });

  it('without an endpoint starts no SDK, exports nothing, and still passes the client traceparent to engines', async () => {
    receiver = await startOtlpReceiver();
    tracing = startTracing({});
    expect(tracing.enabled).toBe(false);
    const headers = traceOneTask(tracing);
    expect(headers.traceparent).toBe(clientHeaders.traceparent);
    const http = startHttpSpan(tracing.tracer, { method: 'GET', route: '/healthz', headers: {} });
    expect(http.span.isRecording()).toBe(false);
    expect(traceHeaders(http.context)).toEqual({});
    await tracing.shutdown();
    await new Promise((r) => setTimeout(r, 50));
    expect(receiver.requests).toEqual([]);
  });

  it('reads the OTLP endpoint the way the OTel spec says', () => {
    expect(tracesEndpoint({})).toBeUndefined();
    expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe('http://collector:4318/v1/traces');
    expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:9/x' })).toBe('http://t:9/x');
    expect(startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }).enabled).toBe(false);
  });
});
