// Real traffic through the real gateway (compose() from main.ts on a loopback port), then
// GET /metrics checked against the metrics contract: every required series present, nothing
// undocumented, labels within budget, and counters moved by exactly the traffic sent.

import pino from 'pino';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { compose, type Gateway } from '../../src/main.ts';
import { lintExposition, readMetricsContract } from '../../tools/metrics-lint/metrics-lint.ts';
import { parsePromText, sampleValue, type ParsedExposition } from '../../src/telemetry/prom-text.ts';
import { mockPool, testConfig } from '../support/gateway.ts';
import { openStream } from '../support/sse-client.ts';

const contract = readMetricsContract();

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

async function start(): Promise<string> {
  // compose() wires the metrics observer, the backpressure counter and GET /metrics itself.
  const config = testConfig({ pools: [mockPool({ replicas: [{ id: 'mock-0', slots: 2 }] })] });
  gateway = await compose(config, { logger: pino({ level: 'silent' }) });
  return gateway.app.listen({ host: '127.0.0.1', port: 0 });
}

async function scrape(url: string): Promise<{ text: string; parsed: ParsedExposition; contentType: unknown }> {
  const res = await request(`${url}/metrics`);
  const text = await res.body.text();
  expect(res.statusCode).toBe(200);
  return { text, parsed: parsePromText(text), contentType: res.headers['content-type'] };
}

const post = (url: string, body: unknown) =>
  request(`${url}/v1/tasks`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }).then(async (r) => ({
    status: r.statusCode,
    body: (await r.body.json()) as Record<string, unknown>,
  }));

describe('GET /metrics after real traffic', () => {
  // ORCH-0800 ORCH-0801
  it('passes the contract and moves every counter by exactly the traffic sent', async () => {
    const url = await start();
    const before = await scrape(url);
    expect(before.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const v0 = (name: string, labels: Record<string, string> = {}) => sampleValue(before.parsed, name, labels) ?? 0;

    const TASKS = 3;
    const MAX_TOKENS = 4;
    for (let i = 0; i < TASKS; i++) {
      const res = await post(url, { model: 'demo', prompt: `hello ${i}`, max_tokens: MAX_TOKENS });
      expect(res.status).toBe(202);
      const stream = await openStream(`${url}/v1/tasks/${String(res.body.task_id)}/stream`);
      expect(stream.events.at(-1)?.event).toBe('end');
    }
    const invalid = await post(url, { model: 'demo', prompt: 'x', max_tokens: -1 });
    expect(invalid.status).toBe(400);

    const after = await scrape(url);
    expect(lintExposition(after.text, contract)).toEqual([]);
    const delta = (name: string, labels: Record<string, string> = {}) => (sampleValue(after.parsed, name, labels) ?? 0) - v0(name, labels);
    const demo = { pool: 'demo', priority: 'interactive' };
    expect(delta('orchqueue_tasks_enqueued_total', demo)).toBe(TASKS);
    expect(delta('orchqueue_tasks_started_total', demo)).toBe(TASKS);
    expect(delta('orchqueue_tasks_completed_total', { ...demo, outcome: 'completed' })).toBe(TASKS);
    expect(delta('orchqueue_tokens_out_total', { pool: 'demo' })).toBe(TASKS * MAX_TOKENS);
    expect(delta('orchqueue_queue_wait_seconds_count', demo)).toBe(TASKS);
    expect(delta('orchqueue_time_to_first_token_seconds_count', demo)).toBe(TASKS);
    expect(delta('orchqueue_task_duration_seconds_count', { ...demo, outcome: 'completed' })).toBe(TASKS);
    expect(delta('orchqueue_tasks_rejected_total', { reason: 'INVALID_PARAMS' })).toBe(1);
    expect(delta('orchqueue_http_request_duration_seconds_count', { route: '/v1/tasks', method: 'POST', status_class: '2xx' })).toBe(TASKS);
    expect(delta('orchqueue_http_request_duration_seconds_count', { route: '/v1/tasks', method: 'POST', status_class: '4xx' })).toBe(1);
    expect(delta('orchqueue_http_request_duration_seconds_count', { route: '/v1/tasks/:task_id/stream', method: 'GET', status_class: '2xx' })).toBe(TASKS);
    // Gauges read the pools at scrape time: the mock replica is up with its two slots free.
    expect(sampleValue(after.parsed, 'orchqueue_replica_up', { pool: 'demo', replica: 'mock-0' })).toBe(1);
    expect(sampleValue(after.parsed, 'orchqueue_replica_slots_capacity', { replica: 'mock-0' })).toBe(2);
    expect(sampleValue(after.parsed, 'orchqueue_replica_slots_busy', { replica: 'mock-0' })).toBe(0);
    expect(sampleValue(after.parsed, 'orchqueue_queue_depth', demo)).toBe(0);
    expect(sampleValue(after.parsed, 'orchqueue_engine_info', { replica: 'mock-0', engine: 'mock' })).toBe(1);
    // No task id ever becomes a label value.
    expect(after.text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-/);
  });
});
