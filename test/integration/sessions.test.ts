// Sessions through the API: create with budgets, implicit creation by a task, TTL, turn cap,
// budgets, delete and the typed errors for each violation.

import { afterEach, describe, expect, it } from 'vitest';
import { expectResponseMatches } from '../support/contract.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { openStream } from '../support/sse-client.ts';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

const run = (g: TestGateway, body: Record<string, unknown>) =>
  openStream(`${g.url}/v1/tasks`, { method: 'POST', body: { model: 'demo', prompt: 'turn', max_tokens: 4, ...body } });

describe('sessions', () => {
  // ORCH-0301 ORCH-0305 ORCH-0307
  it('creates a session implicitly on first use and counts turns, tokens and warmth', async () => {
    gw = await startGateway();
    await run(gw, { session_id: 'chat-1' });
    const view = await gw.get('/v1/sessions/chat-1');
    expect(view.status).toBe(200);
    expectResponseMatches('getSession', 200, view.body);
    expect(view.body).toMatchObject({ session_id: 'chat-1', turns: 1, max_turns: 8, kv_warmth: 'warm', replica_id: 'mock-0', budgets: { tokens: { used: 4 } } });
    expect((view.body as { ttl_ms_remaining: number }).ttl_ms_remaining).toBeGreaterThan(590_000);
  });

  // ORCH-0303 ORCH-0115
  it('enforces the turn cap with BUDGET_EXCEEDED naming the budget', async () => {
    gw = await startGateway(testConfig({ sessions: { max_turns: 2 } }));
    await run(gw, { session_id: 's' });
    await run(gw, { session_id: 's' });
    const third = await gw.post('/v1/tasks', { model: 'demo', prompt: 'x', max_tokens: 2, session_id: 's' });
    expect(third.status).toBe(402);
    expectResponseMatches('createTask', 402, third.body);
    expect((third.body as { error: Record<string, unknown> }).error).toMatchObject({ code: 'BUDGET_EXCEEDED', budget: 'turns' });
    expect(((await gw.get('/v1/sessions/s')).body as { turns: number }).turns).toBe(2);
  });

  // ORCH-0304
  it('refuses a task whose max_tokens exceeds the remaining token budget, and one after the budget is used', async () => {
    gw = await startGateway();
    const created = await gw.post('/v1/sessions', { session_id: 'budget', budgets: { tokens: 6 } });
    expect(created.status).toBe(201);
    expectResponseMatches('createSession', 201, created.body);
    const tooBig = await gw.post('/v1/tasks', { model: 'demo', prompt: 'x', max_tokens: 7, session_id: 'budget' });
    expect((tooBig.body as { error: Record<string, unknown> }).error).toMatchObject({ code: 'BUDGET_EXCEEDED', budget: 'tokens', field: 'max_tokens' });
    await run(gw, { session_id: 'budget', max_tokens: 6 });
    const after = await gw.post('/v1/tasks', { model: 'demo', prompt: 'x', max_tokens: 1, session_id: 'budget' });
    expect(after.status).toBe(402);
    expect(((await gw.get('/v1/sessions/budget')).body as { turns: number }).turns).toBe(1);
  });

  // ORCH-0302
  it('expires a session after its TTL: SESSION_EXPIRED on use, 410 on read', async () => {
    gw = await startGateway();
    await gw.post('/v1/sessions', { session_id: 'short', ttl_ms: 1_000 });
    await new Promise((r) => setTimeout(r, 1_100));
    const use = await gw.post('/v1/tasks', { model: 'demo', prompt: 'x', max_tokens: 1, session_id: 'short' });
    expect(use.status).toBe(410);
    expect((use.body as { error: { code: string } }).error.code).toBe('SESSION_EXPIRED');
    expect((await gw.get('/v1/sessions/short')).status).toBe(410);
  });

  // ORCH-0306 ORCH-0301 ORCH-0305
  it('deletes a session (204) and answers 404 for unknown ones, and 409 for a duplicate create', async () => {
    gw = await startGateway();
    await gw.post('/v1/sessions', { session_id: 'gone' });
    expect((await gw.post('/v1/sessions', { session_id: 'gone' })).status).toBe(409);
    const del = await gw.del('/v1/sessions/gone');
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect((await gw.del('/v1/sessions/gone')).status).toBe(404);
    const unknown = await gw.get('/v1/sessions/never');
    expect(unknown.status).toBe(404);
    expectResponseMatches('getSession', 404, unknown.body);
  });
});
