// Traces through the real gateway: compose() with OTEL_EXPORTER_OTLP_ENDPOINT pointing at an
// in-process OTLP/HTTP JSON receiver, a llama.cpp fake as the engine, and one streamed task
// sent with a client `traceparent`. Checks the exported span tree and the header the engine got.

import { afterEach, describe, expect, it } from 'vitest';
import { startLlamacppFake, type LlamacppFake, type SeenRequest } from '../fakes/llamacpp/fake.ts';
import type { AdmissionRecorder } from '../../src/core/observer.ts';
import type { ComposeOptions } from '../../src/main.ts';
import { SPAN_NAMES } from '../../src/telemetry/spans.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { openStream, tokens } from '../support/sse-client.ts';
import { spanAttr as attr, startOtlpReceiver, type OtlpReceiver, type OtlpSpan } from './telemetry-otlp-receiver.ts';

const CLIENT_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_SPAN = 'b7ad6b7169203331';
const CLIENT_TRACEPARENT = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

const ms = (t: string | number): number => Number(BigInt(t) / 1_000_000n);
const COMMIT_MS = 40;
/** An audit recorder whose admission commit takes COMMIT_MS, so admission has a known floor. */
const slowRecorder: AdmissionRecorder = {
  accepting: () => true,
  commitAdmission: () => new Promise((resolve) => setTimeout(resolve, COMMIT_MS)),
};

// Tests in this file run one after another (vitest's default inside a file), and each closes
// its gateway, whose close() shuts the SDK down and releases the OTel globals for the next.
let gw: TestGateway | undefined;
let fake: LlamacppFake | undefined;
let receiver: OtlpReceiver | undefined;
afterEach(async () => {
  await gw?.close();
  await fake?.close();
  await receiver?.close();
  gw = fake = receiver = undefined;
});

/** A gateway with one llama.cpp pool on a fresh fake, in the given environment. */
async function start(env: Record<string, string>, opts: ComposeOptions = {}): Promise<{ gw: TestGateway; fake: LlamacppFake }> {
  fake = await startLlamacppFake({ slots: 2 });
  const pool = { id: 'lc', engine: 'llamacpp', model: 'lc', replicas: [{ id: 'r0', url: fake.url }] };
  gw = await startGateway(testConfig({ pools: [pool] }), { env, ...opts });
  return { gw, fake };
}

/** Streams one task to its end; returns the generation request the engine saw. */
async function streamOneTask(g: TestGateway, f: LlamacppFake, headers: Record<string, string>): Promise<{ taskId: string; engineCall: SeenRequest }> {
  const stream = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: { model: 'lc', prompt: 'trace me', max_tokens: 5, seed: 1 }, headers });
  expect(stream.status).toBe(200);
  expect(stream.ended).toBe(true);
  expect(stream.events.at(-1)?.event).toBe('end');
  expect(tokens(stream.events)).toHaveLength(5);
  const calls = f.seen.filter((s) => s.method === 'POST' && s.path.startsWith('/completion'));
  expect(calls).toHaveLength(1);
  const taskId = stream.headers['x-task-id'];
  expect(typeof taskId).toBe('string');
  return { taskId: String(taskId), engineCall: calls[0] as SeenRequest };
}

describe('gateway tracing', () => {
  // ORCH-0803
  it('exports the span tree of a streamed task under the client trace and hands the engine call span to the engine', async () => {
    receiver = await startOtlpReceiver();
    const { gw: g, fake: f } = await start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, { recorder: slowRecorder });
    const { taskId, engineCall } = await streamOneTask(g, f, { traceparent: CLIENT_TRACEPARENT });
    await g.close(); // flushes the SDK's batch processor
    gw = undefined;

    const byName = new Map(receiver.spans.map((s) => [s.name, s]));
    expect([...byName.keys()].sort()).toEqual(['POST /v1/tasks', SPAN_NAMES.admission, SPAN_NAMES.dispatch, SPAN_NAMES.engineCall, SPAN_NAMES.queueWait].sort());
    expect(receiver.spans).toHaveLength(5);
    expect(receiver.spans.every((s) => s.traceId === CLIENT_TRACE)).toBe(true);
    const http = byName.get('POST /v1/tasks') as OtlpSpan;
    const dispatch = byName.get(SPAN_NAMES.dispatch) as OtlpSpan;
    const engine = byName.get(SPAN_NAMES.engineCall) as OtlpSpan;
    expect(http.parentSpanId).toBe(CLIENT_SPAN);
    expect(http.kind).toBe(2); // SERVER
    expect(attr(http, 'http.route')).toBe('/v1/tasks');
    expect(attr(http, 'http.response.status_code')).toBe(200);
    for (const name of [SPAN_NAMES.admission, SPAN_NAMES.queueWait, SPAN_NAMES.dispatch]) {
      expect(byName.get(name)?.parentSpanId, name).toBe(http.spanId);
      expect(attr(byName.get(name) as OtlpSpan, 'orchqueue.task_id'), name).toBe(taskId);
    }
    const admission = byName.get(SPAN_NAMES.admission) as OtlpSpan;
    expect(attr(admission, 'orchqueue.outcome')).toBe('admitted');
    // Admission runs from the request's arrival through the audit commit; queue wait follows it.
    expect(ms(admission.startTimeUnixNano)).toBeGreaterThanOrEqual(ms(http.startTimeUnixNano));
    expect(ms(admission.endTimeUnixNano) - ms(admission.startTimeUnixNano)).toBeGreaterThanOrEqual(COMMIT_MS - 1);
    expect(ms((byName.get(SPAN_NAMES.queueWait) as OtlpSpan).startTimeUnixNano)).toBeGreaterThanOrEqual(ms(admission.endTimeUnixNano));
    expect(engine.parentSpanId).toBe(dispatch.spanId);
    expect(engine.kind).toBe(3); // CLIENT
    expect(attr(engine, 'orchqueue.task_id')).toBe(taskId);
    expect(attr(engine, 'orchqueue.pool_id')).toBe('lc');
    expect(attr(engine, 'orchqueue.replica_id')).toBe('r0');
    expect(attr(engine, 'orchqueue.engine')).toBe('llamacpp');
    expect(attr(engine, 'gen_ai.usage.output_tokens')).toBe(5);
    expect(attr(engine, 'orchqueue.outcome')).toBe('completed');
    // The engine continues the client's trace from the engine-call span.
    const sent = String(engineCall.headers.traceparent);
    expect(sent).toMatch(TRACEPARENT);
    expect(TRACEPARENT.exec(sent)?.slice(1, 3)).toEqual([CLIENT_TRACE, engine.spanId]);
  });

  // ORCH-0803
  it('with no OTLP endpoint and no client traceparent sends the engine no traceparent and exports nothing', async () => {
    receiver = await startOtlpReceiver();
    const { gw: g, fake: f } = await start({ OTEL_SERVICE_NAME: 'unused-without-endpoint' });
    const { engineCall } = await streamOneTask(g, f, {});
    expect(engineCall.headers.traceparent).toBeUndefined();
    expect(f.seen.every((s) => s.headers.traceparent === undefined)).toBe(true);
    await g.close();
    gw = undefined;
    expect(receiver.requests).toEqual([]);
    expect(receiver.spans).toEqual([]);
  });

  // ORCH-0803
  it('with tracing off still passes the client traceparent through to the engine', async () => {
    const { gw: g, fake: f } = await start({});
    const { engineCall } = await streamOneTask(g, f, { traceparent: CLIENT_TRACEPARENT });
    expect(TRACEPARENT.exec(String(engineCall.headers.traceparent))?.[1]).toBe(CLIENT_TRACE);
    // No span of our own is recorded, so the engine's parent is the client's span.
    expect(engineCall.headers.traceparent).toBe(CLIENT_TRACEPARENT);
  });
});
