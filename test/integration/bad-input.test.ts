// Every bad input gets a typed error naming the problem and changes nothing: no task, no
// queue entry, no session turn. After each case the gateway's visible state is compared.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectResponseMatches } from '../support/contract.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway(testConfig({ server: { body_limit_bytes: 4_096, max_tokens_limit: 4_096 } }));
  await gw.post('/v1/sessions', { session_id: 'watched' });
});
afterAll(async () => gw.close());

async function snapshot() {
  // ttl_ms_remaining counts down by itself; expires_at only moves when the session is used.
  const { ttl_ms_remaining: _ttl, ...session } = (await gw.get('/v1/sessions/watched')).body as Record<string, unknown>;
  return { tasks: gw.tasks.size, pool: (await gw.get('/v1/pools/demo')).body, session };
}

const valid = { model: 'demo', prompt: 'hello', max_tokens: 4 };

const cases: Array<[string, string, number, string, string | undefined]> = [
  ['malformed JSON', '{"model": "demo", ', 400, 'INVALID_PARAMS', undefined],
  ['a JSON array', '[1,2]', 400, 'INVALID_PARAMS', undefined],
  ['an unknown field', JSON.stringify({ ...valid, temprature: 0.5 }), 400, 'INVALID_PARAMS', 'temprature'],
  ['a missing prompt', JSON.stringify({ model: 'demo', max_tokens: 4 }), 400, 'INVALID_PARAMS', 'prompt'],
  ['max_tokens as a string', JSON.stringify({ ...valid, max_tokens: '4' }), 400, 'INVALID_PARAMS', 'max_tokens'],
  ['negative max_tokens', JSON.stringify({ ...valid, max_tokens: -1 }), 400, 'INVALID_PARAMS', 'max_tokens'],
  ['zero max_tokens', JSON.stringify({ ...valid, max_tokens: 0 }), 400, 'INVALID_PARAMS', 'max_tokens'],
  ['huge max_tokens', JSON.stringify({ ...valid, max_tokens: 10_000_000 }), 400, 'INVALID_PARAMS', 'max_tokens'],
  ['a bad priority', JSON.stringify({ ...valid, priority: 'urgent' }), 400, 'INVALID_PARAMS', 'priority'],
  ['temperature out of range', JSON.stringify({ ...valid, temperature: 9 }), 400, 'INVALID_PARAMS', 'temperature'],
  ['a non-uuid task_id', JSON.stringify({ ...valid, task_id: 'abc' }), 400, 'INVALID_PARAMS', 'task_id'],
  ['an unknown model', JSON.stringify({ ...valid, model: 'gpt-9' }), 400, 'INVALID_PARAMS', 'model'],
  ['an engine that does not serve the model', JSON.stringify({ ...valid, engine: 'vllm' }), 400, 'INVALID_PARAMS', 'engine'],
  ['an unknown pinned replica', JSON.stringify({ ...valid, placement: { pin: 'nope' } }), 400, 'INVALID_PARAMS', 'placement.pin'],
  ['an empty prompt', JSON.stringify({ ...valid, prompt: '' }), 400, 'INVALID_PARAMS', 'prompt'],
  ['a bad session id', JSON.stringify({ ...valid, session_id: 'has space' }), 400, 'INVALID_PARAMS', 'session_id'],
  ['an oversized body', JSON.stringify({ ...valid, prompt: 'x'.repeat(5_000) }), 413, 'PAYLOAD_TOO_LARGE', undefined],
];

describe('bad inputs to POST /v1/tasks', () => {
  // ORCH-0016 ORCH-0005 ORCH-0006 ORCH-0008 ORCH-0009 ORCH-0104 ORCH-0115 ORCH-0900 ORCH-0901 ORCH-0902
  it.each(cases)('refuses %s with a typed error and changes nothing', async (_name, raw, status, code, field) => {
    const before = await snapshot();
    const res = await gw.raw('POST', '/v1/tasks', raw, { 'content-type': 'application/json' });
    expect(res.status).toBe(status);
    expectResponseMatches('createTask', status, res.body);
    const error = (res.body as { error: Record<string, unknown> }).error;
    expect(error.code).toBe(code);
    expect(error.correlation_id).toBe(res.headers['x-correlation-id']);
    if (field) expect(error.field).toBe(field);
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+|node_modules|stack/);
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a wrong content type', async () => {
    const res = await gw.raw('POST', '/v1/tasks', 'model=demo', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(400);
    expect((res.body as { error: { code: string } }).error.code).toBe('INVALID_PARAMS');
  });

  // ORCH-0103
  it('answers 409 for a reused task_id with a different body, and replays the same answer for the same body', async () => {
    const task_id = '3b0d1d2e-1111-4a4a-8b8b-123456789abc';
    const first = await gw.post('/v1/tasks', { ...valid, task_id });
    expect(first.status).toBe(202);
    const replay = await gw.post('/v1/tasks', { ...valid, task_id });
    expect(replay.status).toBe(202);
    expect(replay.body).toEqual(first.body);
    const before = await snapshot();
    const conflict = await gw.post('/v1/tasks', { ...valid, task_id, prompt: 'other' });
    expect(conflict.status).toBe(409);
    expect((conflict.body as { error: Record<string, unknown> }).error).toMatchObject({ code: 'CONFLICT', field: 'task_id' });
    expect(await snapshot()).toEqual(before);
  });

  // ORCH-0400
  it('answers typed 404s for unknown tasks, sessions and routes', async () => {
    for (const path of ['/v1/tasks/nope', '/v1/tasks/nope/stream', '/v1/sessions/nope', '/v1/nothing-here']) {
      const res = await gw.get(path);
      expect(res.status, path).toBe(404);
      expect((res.body as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    }
  });

  // ORCH-0016
  it('refuses a malformed Last-Event-ID', async () => {
    const res = await gw.post('/v1/tasks', valid);
    const { task_id } = res.body as { task_id: string };
    const bad = await gw.get(`/v1/tasks/${task_id}/stream`, { 'last-event-id': 'abc' });
    expect(bad.status).toBe(400);
    expect((bad.body as { error: Record<string, unknown> }).error).toMatchObject({ code: 'INVALID_PARAMS', field: 'last-event-id' });
  });

  it('refuses bad session creation bodies and changes nothing', async () => {
    const before = await snapshot();
    for (const body of [{ ttl_ms: 5 }, { budgets: { tokens: -1 } }, { budgets: { dollars: 3 } }, { max_turns: 0 }]) {
      const res = await gw.post('/v1/sessions', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect(await snapshot()).toEqual(before);
  });
});
