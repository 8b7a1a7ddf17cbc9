// Journeys through the real server on an ephemeral port with a real SSE parser: submit and
// stream, one round trip, resume, several readers, status, and the contract of every body.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockTokens } from '../../src/adapters/mock/tokens.ts';
import { expectResponseMatches, expectSseEventMatches } from '../support/contract.ts';
import { startGateway, testConfig, mockPool, type TestGateway } from '../support/gateway.ts';
import { openStream, terminal, tokens } from '../support/sse-client.ts';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway(testConfig({ pools: [mockPool({ replicas: [{ id: 'mock-0', slots: 4 }] })] }));
});
afterAll(async () => gw.close());

const submit = (body: Record<string, unknown>, headers?: Record<string, string>) =>
  gw.post('/v1/tasks', { model: 'demo', prompt: 'hello', max_tokens: 8, ...body }, headers);

describe('submit and stream', () => {
  // ORCH-0100 ORCH-0114 ORCH-0400 ORCH-0401 ORCH-0402
  it('answers 202 with the contract body, then streams started, tokens, metrics and one end', async () => {
    const res = await submit({ seed: 1 });
    expect(res.status).toBe(202);
    expectResponseMatches('createTask', 202, res.body, { headers: res.headers });
    const { task_id, streams } = res.body as { task_id: string; streams: { sse: string } };
    const stream = await openStream(`${gw.url}${streams.sse}`);
    expect(stream.status).toBe(200);
    expect(stream.ended).toBe(true);
    const names = stream.events.map((e) => e.event);
    expect(names[0]).toBe('started');
    expect(names.at(-1)).toBe('end');
    expect(terminal(stream.events)).toHaveLength(1);
    expect(tokens(stream.events)).toEqual(mockTokens('hello', 1, 8));
    expect(stream.events.map((e) => e.id)).toEqual(stream.events.map((_, i) => i + 1));
    for (const e of stream.events) expectSseEventMatches(e.event, e.data);
    expect(stream.events.at(-1)?.data).toMatchObject({ tokens_out: 8, finish_reason: 'length' });
    const status = await gw.get(`/v1/tasks/${task_id}`);
    expect(status.status).toBe(200);
    expectResponseMatches('getTask', 200, status.body);
    expect(status.body).toMatchObject({ task_id, state: 'completed', tokens_out: 8, finish_reason: 'length', replica_id: 'mock-0', engine: 'mock', last_event_id: stream.events.length });
  });

  // ORCH-0101
  it('streams directly from the submit in one round trip with Accept: text/event-stream', async () => {
    const stream = await openStream(`${gw.url}/v1/tasks`, { method: 'POST', body: { model: 'demo', prompt: 'one trip', max_tokens: 5, seed: 3 } });
    expect(stream.status).toBe(200);
    expect(stream.headers['x-task-id']).toBeTypeOf('string');
    expect(tokens(stream.events)).toEqual(mockTokens('one trip', 3, 5));
    expect(stream.events.at(-1)?.event).toBe('end');
  });

  // ORCH-0403 ORCH-0205
  it('resumes after Last-Event-ID with exactly the missed events', async () => {
    const res = await submit({ max_tokens: 12, seed: 5 });
    const { streams } = res.body as { streams: { sse: string } };
    const first = await openStream(`${gw.url}${streams.sse}`, { until: (ev) => ev.length >= 4 });
    // Pretend the connection dropped right after the 4th event, whatever else was buffered.
    const lastId = first.events[3]?.id as number;
    expect(lastId).toBe(4);
    const rest = await openStream(`${gw.url}${streams.sse}`, { headers: { 'last-event-id': String(lastId) } });
    expect(rest.events[0]?.id).toBe(lastId + 1);
    const all = [...first.events.slice(0, lastId), ...rest.events];
    expect(all.map((e) => e.id)).toEqual(all.map((_, i) => i + 1));
    expect(tokens(all)).toEqual(mockTokens('hello', 5, 12));
    expect(terminal(all)).toHaveLength(1);
  });

  // ORCH-0403 ORCH-0407
  it('ends at once when resuming after the terminal event', async () => {
    const stream = await openStream(`${gw.url}/v1/tasks`, { method: 'POST', body: { model: 'demo', prompt: 'x', max_tokens: 2 } });
    const id = stream.headers['x-task-id'] as string;
    const again = await openStream(`${gw.url}/v1/tasks/${id}/stream`, { headers: { 'last-event-id': String(stream.events.length) } });
    expect(again.ended).toBe(true);
    expect(again.events).toEqual([]);
  });

  // ORCH-0404
  it('serves the same ordered stream to two readers at once', async () => {
    const res = await submit({ max_tokens: 20, seed: 9 });
    const { streams } = res.body as { streams: { sse: string } };
    const [a, b] = await Promise.all([openStream(`${gw.url}${streams.sse}`), openStream(`${gw.url}${streams.sse}`)]);
    expect(a.events).toEqual(b.events);
    expect(tokens(a.events)).toEqual(mockTokens('hello', 9, 20));
  });

  // ORCH-0406 ORCH-0205
  it('keeps a task whose stream was never opened, and replays its whole story later', async () => {
    const res = await submit({ max_tokens: 3, seed: 2 });
    const { task_id } = res.body as { task_id: string };
    await waitFor(async () => ((await gw.get(`/v1/tasks/${task_id}`)).body as { state: string }).state === 'completed');
    const late = await openStream(`${gw.url}/v1/tasks/${task_id}/stream`);
    expect(late.events.map((e) => e.event)).toEqual(['started', 'token', 'token', 'token', 'metrics', 'end']);
  });

  // ORCH-0008
  it('echoes a valid X-Correlation-Id and generates one otherwise', async () => {
    const mine = await submit({}, { 'x-correlation-id': 'req-42.abc' });
    expect(mine.headers['x-correlation-id']).toBe('req-42.abc');
    const bad = await submit({}, { 'x-correlation-id': 'has spaces and <tags>' });
    expect(bad.headers['x-correlation-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('stops a stop sequence early with finish_reason stop', async () => {
    const words = mockTokens('hello', 11, 30);
    const stop = (words[4] as string).trim() || ',';
    const stream = await openStream(`${gw.url}/v1/tasks`, { method: 'POST', body: { model: 'demo', prompt: 'hello', seed: 11, max_tokens: 30, stop: [stop] } });
    expect(stream.events.at(-1)?.data).toMatchObject({ finish_reason: 'stop' });
    expect(tokens(stream.events).length).toBeLessThan(30);
  });
});

describe('system routes', () => {
  // ORCH-0500 ORCH-0511 ORCH-0512
  it('answers healthz, readyz, openapi.json, pools and capabilities per the contract', async () => {
    const health = await gw.get('/healthz');
    expect(health.body).toEqual({ status: 'ok' });
    const ready = await gw.get('/readyz');
    expect(ready).toMatchObject({ status: 200, body: { status: 'ready', pools: { demo: true } } });
    const doc = await gw.get('/openapi.json');
    expect((doc.body as { openapi: string }).openapi).toMatch(/^3\.1/);
    const pools = await gw.get('/v1/pools');
    expectResponseMatches('listPools', 200, pools.body);
    const pool = await gw.get('/v1/pools/demo');
    expectResponseMatches('getPool', 200, pool.body);
    expect(pool.body).toMatchObject({ id: 'demo', engine: 'mock', ready: true, replicas: [{ id: 'mock-0', state: 'ready', slots_total: 4, engine_version: 'mock-1' }] });
    const caps = await gw.get('/v1/capabilities');
    expectResponseMatches('getCapabilities', 200, caps.body);
    expect(caps.body).toMatchObject({ api_version: '1', pools: [{ id: 'demo', engine: 'mock', ctx_max: 8192, deterministic: true }] });
    expect((await gw.get('/v1/pools/nope')).status).toBe(404);
  });
});

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
