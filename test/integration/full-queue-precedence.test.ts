// While a pool's queue is full, every refusal that comes earlier in the documented order still
// wins over the 429: auth (401), a bad body (400 naming the field), an unknown model, an
// idempotent replay. This is why the 429 path cannot answer before the body is read and
// validated (docs/architecture.md, "The refusal path"); these tests pin that order (issue 14).

import { afterEach, describe, expect, it } from 'vitest';
import { mockPool, startGateway, testConfig, type TestGateway } from '../support/gateway.ts';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

const DATA = 'data-token-0123456789';
const auth = { authorization: `Bearer ${DATA}` };
const body = (over: Record<string, unknown> = {}) => ({ model: 'demo', prompt: 'hello', max_tokens: 200, ...over });
const err = (res: { body: unknown }) => (res.body as { error: Record<string, unknown> }).error;

/** One slot, one queue place, both taken: the next valid submission is refused 429. */
async function fullGateway(): Promise<TestGateway> {
  gw = await startGateway(
    testConfig({
      auth: { data_tokens: [DATA] },
      pools: [mockPool({ replicas: [{ id: 'mock-0', slots: 1 }], queue: { max_queued: 1, policy: 'reject' } }, { tokens_per_s: 20, first_token_delay_ms: 1 })],
    }),
  );
  const admitted = await gw.post('/v1/tasks', body({ task_id: '7b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e' }), auth);
  expect(admitted.status).toBe(202);
  expect((await gw.post('/v1/tasks', body(), auth)).status).toBe(202);
  const refused = await gw.post('/v1/tasks', body(), auth);
  expect(refused.status).toBe(429);
  expect(err(refused).code).toBe('ADMISSION_REJECT');
  return gw;
}

describe('a full queue answers 429 only when nothing earlier refuses the request', () => {
  // ORCH-0010 ORCH-0016 ORCH-0107
  it('answers 401 to a request without credentials, not 429', async () => {
    const g = await fullGateway();
    const res = await g.post('/v1/tasks', body());
    expect(res.status).toBe(401);
    expect(err(res).code).toBe('UNAUTHORIZED');
    expect(res.headers['retry-after']).toBeUndefined();
  });

  // ORCH-0016 ORCH-0116 ORCH-0107
  it('answers 400 naming the field to a body that fails validation, and a malformed JSON body with 400, not 429', async () => {
    const g = await fullGateway();
    const bad = await g.post('/v1/tasks', body({ max_tokens: 'many' }), auth);
    expect(bad.status).toBe(400);
    expect(err(bad)).toMatchObject({ code: 'INVALID_PARAMS', field: 'max_tokens' });
    expect(bad.headers['x-backoff-ms']).toBeUndefined();
    const malformed = await g.raw('POST', '/v1/tasks', '{"model":', { 'content-type': 'application/json', ...auth });
    expect(malformed.status).toBe(400);
    expect(err(malformed).code).toBe('INVALID_PARAMS');
  });

  // ORCH-0104 ORCH-0116 ORCH-0107
  it('answers 400 naming the field to an unknown model, not 429', async () => {
    const g = await fullGateway();
    const unknown = await g.post('/v1/tasks', body({ model: 'no-such-model' }), auth);
    expect(unknown.status).toBe(400);
    expect(err(unknown)).toMatchObject({ code: 'INVALID_PARAMS', field: 'model' });
  });

  // ORCH-0103 ORCH-0116 ORCH-0107
  it('replays the first answer to a repeated task_id instead of refusing it', async () => {
    const g = await fullGateway();
    const replay = await g.post('/v1/tasks', body({ task_id: '7b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e' }), auth);
    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({ task_id: '7b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e' });
  });

  // ORCH-0107 (issue 14: the back-off is remembered across a burst; body and headers still agree)
  it('gives each of concurrent refusals one hint, the same in its body, Retry-After and X-Backoff-Ms', async () => {
    const g = await fullGateway();
    const [a, b] = await Promise.all([g.post('/v1/tasks', body(), auth), g.post('/v1/tasks', body(), auth)]);
    for (const res of [a, b]) {
      expect(res.status).toBe(429);
      expect(err(res).retry_after_ms).toBe(Number(res.headers['x-backoff-ms']));
      expect(res.headers['retry-after']).toBe(String(Math.max(1, Math.ceil(Number(res.headers['x-backoff-ms']) / 1000))));
    }
  });
});
