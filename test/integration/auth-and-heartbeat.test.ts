// Bearer-token scopes (data vs control plane) and SSE heartbeats while a stream is idle.

import { afterEach, describe, expect, it } from 'vitest';
import { mockPool, startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { openStream } from '../support/sse-client.ts';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

const DATA = 'data-token-123456';
const CONTROL = 'control-token-654321';
const task = { model: 'demo', prompt: 'hi', max_tokens: 2 };

describe('auth', () => {
  // ORCH-0010 ORCH-0011
  it('separates the data plane from the control plane and keeps public routes open', async () => {
    gw = await startGateway(testConfig({ auth: { data_tokens: [DATA], control_tokens: [CONTROL] } }));
    expect((await gw.post('/v1/tasks', task)).status).toBe(401);
    expect((await gw.post('/v1/tasks', task, { authorization: 'Bearer wrong-token-000' })).status).toBe(401);
    expect((await gw.post('/v1/tasks', task, { authorization: `Bearer ${DATA}` })).status).toBe(202);
    expect((await gw.post('/v1/tasks', task, { authorization: `Bearer ${CONTROL}` })).status).toBe(202);
    const forbidden = await gw.get('/v1/pools', { authorization: `Bearer ${DATA}` });
    expect(forbidden.status).toBe(403);
    expect((forbidden.body as { error: { code: string } }).error.code).toBe('FORBIDDEN');
    expect((await gw.get('/v1/pools', { authorization: `Bearer ${CONTROL}` })).status).toBe(200);
    expect((await gw.get('/healthz')).status).toBe(200);
    expect((await gw.get('/readyz')).status).toBe(200);
  });

  // ORCH-0010 ORCH-0016 ORCH-0116 (auth before schema)
  it('refuses before validating, so an unauthenticated bad body learns nothing', async () => {
    gw = await startGateway(testConfig({ auth: { data_tokens: [DATA] } }));
    const res = await gw.raw('POST', '/v1/tasks', '{broken', { 'content-type': 'application/json' });
    expect(res.status).toBe(401);
    expect(gw.tasks.size).toBe(0);
  });
});

describe('heartbeats', () => {
  // ORCH-0405
  it('sends comment heartbeats while the engine is silent, and they are not events', async () => {
    gw = await startGateway(
      testConfig({ server: { heartbeat_ms: 100 }, pools: [mockPool({}, { first_token_delay_ms: 450, tokens_per_s: 1_000 })] }),
    );
    const stream = await openStream(`${gw.url}/v1/tasks`, { method: 'POST', body: task });
    expect(stream.comments).toBeGreaterThanOrEqual(2);
    expect(stream.events.map((e) => e.event)).toEqual(['started', 'token', 'token', 'metrics', 'end']);
  });
});
