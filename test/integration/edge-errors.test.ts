// Issue 10 findings 5, 10 and 11 over real HTTP: every refusal is the envelope (also those the
// router and Node's parser make), every number has a maximum with a typed 400, audit bad input
// is 400 not 5xx, and replica credentials never appear in an answer.

import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockPool, startGateway, testConfig, type HttpResult, type TestGateway } from '../support/gateway.ts';
import { createTestDatabase, databaseUrl } from './audit-backends.ts';

let gw: TestGateway;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
const SECRET_URL = 'http://admin:hunter2@127.0.0.1:9/engine?token=tok-abc&model=m&sig=s1g';

beforeAll(async () => {
  db = await createTestDatabase();
  gw = await startGateway(
    testConfig({
      server: { body_limit_bytes: 4_096 },
      audit: { backend: 'postgres', database_url: databaseUrl(db.name) },
      pools: [mockPool({ replicas: [{ id: 'mock-0', slots: 2, url: SECRET_URL }] })],
    }),
  );
});
afterAll(async () => {
  await gw.close();
  await db.drop();
});

function expectEnvelope(res: HttpResult, status: number, code: string, field?: string): void {
  expect(res.status, res.text).toBe(status);
  const error = (res.body as { error: Record<string, unknown> }).error;
  expect(error).toMatchObject({ code, retriable: expect.any(Boolean), message: expect.any(String), correlation_id: expect.any(String) });
  if (field !== undefined) expect(error.field).toBe(field);
}

const task = { model: 'demo', prompt: 'hello', max_tokens: 4 };

describe('errors the router and the HTTP parser make are envelopes', () => {
  it('answers a malformed percent-encoding in the path with 400 INVALID_PARAMS and a correlation id', async () => {
    const res = await gw.get('/v1/tasks/%zz');
    expectEnvelope(res, 400, 'INVALID_PARAMS', 'path');
    expect(res.headers['x-correlation-id']).toBe((res.body as { error: { correlation_id: string } }).error.correlation_id);
  });

  it('answers an over-long path segment with 414 URI_TOO_LONG', async () => {
    expectEnvelope(await gw.get(`/v1/sessions/${'a'.repeat(600)}`), 414, 'URI_TOO_LONG');
  });

  it('answers over-large headers with 431 HEADERS_TOO_LARGE', async () => {
    expectEnvelope(await gw.get('/healthz', { 'x-big': 'a'.repeat(20_000) }), 431, 'HEADERS_TOO_LARGE');
  });

  it('reads back a session whose id has 101 to 128 characters, and refuses 129 with a 400 naming session_id', async () => {
    for (const length of [101, 128]) {
      const id = 's'.repeat(length);
      expect((await gw.post('/v1/sessions', { session_id: id })).status).toBe(201);
      expect((await gw.get(`/v1/sessions/${id}`)).status).toBe(200);
    }
    expectEnvelope(await gw.get(`/v1/sessions/${'s'.repeat(129)}`), 400, 'INVALID_PARAMS', 'session_id');
  });

  it('states the body limit in the 413 message', async () => {
    const res = await gw.post('/v1/tasks', { ...task, prompt: 'x'.repeat(5_000) });
    expectEnvelope(res, 413, 'PAYLOAD_TOO_LARGE');
    expect((res.body as { error: { message: string } }).error.message).toContain('4096 bytes');
  });
});

describe('prompts must be clean text', () => {
  async function postBytes(bytes: Buffer): Promise<HttpResult> {
    const res = await request(`${gw.url}/v1/tasks`, { method: 'POST', body: bytes, headers: { 'content-type': 'application/json' } });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body: JSON.parse(text) as unknown, text };
  }

  it('refuses invalid UTF-8 bytes with 400 naming prompt', async () => {
    const body = Buffer.concat([Buffer.from('{"model":"demo","max_tokens":4,"prompt":"ab'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    expectEnvelope(await postBytes(body), 400, 'INVALID_PARAMS', 'prompt');
  });

  it('names the array element that holds invalid UTF-8 (OpenAI param messages[1].content)', async () => {
    const body = Buffer.concat([
      Buffer.from('{"model":"demo","max_tokens":4,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"ab'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}]}'),
    ]);
    const res = await request(`${gw.url}/v1/chat/completions`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(res.statusCode).toBe(400);
    expect(((await res.body.json()) as { error: { param: string; code: string } }).error).toMatchObject({ param: 'messages[1].content', code: 'INVALID_PARAMS' });
  });

  it.each([
    ['a NUL character', '"a\\u0000b"'],
    ['a lone high surrogate', '"a\\ud800b"'],
    ['a lone low surrogate', '"\\udc00"'],
  ])('refuses %s with 400 naming prompt', async (_name, prompt) => {
    expectEnvelope(await postBytes(Buffer.from(`{"model":"demo","max_tokens":4,"prompt":${prompt}}`)), 400, 'INVALID_PARAMS', 'prompt');
  });

  it('accepts a surrogate pair and a literal U+FFFD', async () => {
    expect((await gw.post('/v1/tasks', { ...task, prompt: 'emoji 😀 and \uFFFD' })).status).toBe(202);
  });
});

describe('every number has a maximum', () => {
  it.each([
    ['deadline_ms above 2^31-1', { ...task, deadline_ms: 2 ** 31 }, 'deadline_ms'],
    ['deadline_ms of 1e300', { ...task, deadline_ms: 1e300 }, 'deadline_ms'],
    ['max_tokens of 2^53', { ...task, max_tokens: 2 ** 53 }, 'max_tokens'],
  ])('refuses a task with %s', async (_name, body, field) => {
    expectEnvelope(await gw.post('/v1/tasks', body), 400, 'INVALID_PARAMS', field);
  });

  it.each([3e9, 1e300, 2 ** 31])('refuses a drain with deadline_ms %d and leaves the pool serving', async (deadline) => {
    expectEnvelope(await gw.post('/v1/pools/demo/drain', { deadline_ms: deadline }), 400, 'INVALID_PARAMS', 'deadline_ms');
    expect((await gw.get('/v1/pools/demo')).body).toMatchObject({ draining: false, ready: true });
  });

  it('refuses a session ttl_ms of 2^53-1, and a session at the maximum reads back', async () => {
    expectEnvelope(await gw.post('/v1/sessions', { ttl_ms: 2 ** 53 - 1 }), 400, 'INVALID_PARAMS', 'ttl_ms');
    expectEnvelope(await gw.post('/v1/sessions', { budgets: { time_ms: 1e300 } }), 400, 'INVALID_PARAMS', 'budgets.time_ms');
    const created = await gw.post('/v1/sessions', { session_id: 'longest', ttl_ms: 604_800_000 });
    expect(created.status).toBe(201);
    expect((await gw.get('/v1/sessions/longest')).status).toBe(200);
  });
});

describe('audit input is validated before the store sees it', () => {
  it.each([
    ['after_seq=1e30', 'after_seq'],
    ['after_seq=9007199254740992', 'after_seq'],
    ['task_id=%00', 'task_id'],
    ['session_id=a%00b', 'session_id'],
    ['since=0000-01-01T00:00:00Z', 'since'],
    ['until=9999-12-31T23:59:60Z', 'until'],
    ['since=9999-12-31T23:00:00-05:00', 'since'],
  ])('answers GET /v1/audit?%s with 400 naming the field', async (query, field) => {
    expectEnvelope(await gw.get(`/v1/audit?${query}`), 400, 'INVALID_PARAMS', field);
    expectEnvelope(await gw.get(`/v1/audit/export?${query}`), 400, 'INVALID_PARAMS', field);
  });

  it('refuses a hold with a year-0 range or a NUL in its reason', async () => {
    expectEnvelope(await gw.post('/v1/audit/holds', { from: '0000-01-01T00:00:00Z', to: '2000-01-01T00:00:00Z', reason: 'r' }), 400, 'INVALID_PARAMS', 'from');
    expectEnvelope(await gw.post('/v1/audit/holds', { task_id: 't', reason: 'a\u0000b' }), 400, 'INVALID_PARAMS', 'reason');
    expectEnvelope(await gw.del('/v1/audit/holds/%00'), 400, 'INVALID_PARAMS', 'hold_id');
    expect((await gw.get('/v1/audit?limit=5')).status).toBe(200);
  });
});

describe('replica credentials never leave the gateway', () => {
  it('redacts userinfo and secret query parameters in the pool detail and the reload answer', async () => {
    for (const res of [await gw.get('/v1/pools/demo'), await gw.post('/v1/pools/demo/reload', undefined)]) {
      expect(res.status).toBe(200);
      expect(res.text).not.toMatch(/hunter2|tok-abc|s1g/);
      const replica = (res.body as { replicas: Array<{ url?: string }> }).replicas[0];
      expect(replica?.url).toBe('http://[REDACTED]@127.0.0.1:9/engine?token=[REDACTED]&model=m&sig=[REDACTED]');
    }
  });
});
