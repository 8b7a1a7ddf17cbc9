// Admission that knows a hosted provider's limits (issue 13 item 5), through the real gateway in
// front of the Anthropic fake: once an answer reports the request budget spent, the next task is
// refused with an honest 429 carrying the provider's reset instead of being sent to fail.

import { afterEach, describe, expect, it } from 'vitest';
import { startAnthropicFake, type AnthropicFake } from '../fakes/anthropic/fake.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { openStream, terminal } from '../support/sse-client.ts';

const KEY_ENV = 'ORCHQUEUE_TEST_LIMITS_KEY';
const KEY = 'sk-ant-limits-0123456789';

let gw: TestGateway | undefined;
let fake: AnthropicFake | undefined;
afterEach(async () => {
  await gw?.close();
  await fake?.close();
  gw = undefined;
  fake = undefined;
});

async function setup(remainingRequests: number) {
  process.env[KEY_ENV] = KEY;
  fake = await startAnthropicFake({ apiKey: KEY, remainingRequests, model: 'claude-fake' });
  const pool = { id: 'claude', engine: 'anthropic', model: 'claude', engine_model: 'claude-fake', replicas: [{ id: 'anthropic', url: fake.url, slots: 2, options: { api_key: { env: KEY_ENV } } }] };
  gw = await startGateway(testConfig({ pools: [pool] }));
  for (let i = 0; i < 100 && !((await gw.get('/v1/pools')).text.includes('"ready":true')); i++) await new Promise((r) => setTimeout(r, 20));
  return gw;
}

const body = { model: 'claude', prompt: 'hello', max_tokens: 4 };

describe('admission that knows the provider rate limit', () => {
  it("answers 429 RATE_LIMITED with the provider's reset once the budget is spent, without calling the provider", async () => {
    const g = await setup(1);
    const first = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body });
    expect(terminal(first.events)[0]?.event).toBe('end');
    const calls = fake?.seen.filter((r) => r.path === '/v1/messages').length;

    const refused = await g.post('/v1/tasks', body);
    expect(refused.status).toBe(429);
    const error = (refused.body as { error: Record<string, unknown> }).error;
    expect(error).toMatchObject({ code: 'RATE_LIMITED', retriable: true, pool_id: 'claude', policy_label: 'provider_rate_limit' });
    // The fake resets its budget 7 s after each answer (RFC 3339, whole seconds).
    expect(error['retry_after_ms']).toBeGreaterThan(4_000);
    expect(error['retry_after_ms']).toBeLessThanOrEqual(7_000);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(5);
    expect(fake?.seen.filter((r) => r.path === '/v1/messages').length).toBe(calls);
  });

  it('keeps admitting while the provider reports budget left', async () => {
    const g = await setup(5);
    for (let i = 0; i < 2; i++) {
      const run = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body });
      expect(terminal(run.events)[0]?.event).toBe('end');
    }
    expect((await g.post('/v1/tasks', body)).status).toBe(202);
  });

  it('refuses bad input by its field before it judges a spent budget', async () => {
    const g = await setup(1);
    await openStream(`${g.url}/v1/tasks`, { method: 'POST', body });
    expect((await g.post('/v1/tasks', body)).status).toBe(429);
    const bad = await g.post('/v1/tasks', { ...body, max_tokens: 0 });
    expect(bad.status).toBe(400);
    expect((bad.body as { error: Record<string, unknown> }).error).toMatchObject({ code: 'INVALID_PARAMS', field: 'max_tokens' });
    const unknown = await g.post('/v1/tasks', { ...body, model: 'nope' });
    expect((unknown.body as { error: Record<string, unknown> }).error).toMatchObject({ code: 'INVALID_PARAMS', field: 'model' });
  });
});
