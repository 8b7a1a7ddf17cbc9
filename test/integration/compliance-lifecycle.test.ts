// Lifecycle requirements no journey pins on its own: dispatch follows capacity events (a queued
// task starts in the same turn the slot frees), sessions keep no prompt or output, a finished
// task is forgotten (404, memory released) when its retention window ends, and the prompt
// length limit is enforced without clamping.

import { afterEach, describe, expect, it } from 'vitest';
import { mockTokens } from '../../src/adapters/mock/tokens.ts';
import { mockPool, startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { openStream } from '../support/sse-client.ts';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('dispatch', () => {
  it('ORCH-0110 starts a queued task in the same turn of the event loop that frees its slot', async () => {
    gw = await startGateway(testConfig({ pools: [mockPool({ replicas: [{ id: 'mock-0', slots: 1 }] }, { tokens_per_s: 100 })] }));
    const first = (await gw.post('/v1/tasks', { model: 'demo', prompt: 'first', max_tokens: 5 })).body as { task_id: string };
    const second = (await gw.post('/v1/tasks', { model: 'demo', prompt: 'second', max_tokens: 5 })).body as { task_id: string };
    const a = gw.tasks.get(first.task_id);
    const b = gw.tasks.get(second.task_id);
    expect(b?.state).toBe('queued');
    // Look at the waiting task right after the first one's terminal event, before any timer can
    // fire: only a dispatcher woken by the freed slot has started it by then, never a poller.
    const stateWhenSlotFreed = await new Promise<string | undefined>((resolve) => {
      a?.log.follow(0, (_frame, event) => {
        if (event.event === 'end' || event.event === 'error') setImmediate(() => resolve(b?.state));
      });
    });
    expect(stateWhenSlotFreed).toBe('running');
  });
});

describe('sessions', () => {
  it('ORCH-0300 keeps metadata only: no prompt and no output in what the session holds', async () => {
    gw = await startGateway();
    const prompt = 'confidential prompt text 4f1c';
    const stream = await openStream(`${gw.url}/v1/tasks`, { method: 'POST', body: { model: 'demo', prompt, max_tokens: 6, seed: 3, session_id: 'meta-only' } });
    expect(stream.events.at(-1)?.event).toBe('end');
    const view = await gw.get('/v1/sessions/meta-only');
    expect(view.body).toMatchObject({ session_id: 'meta-only', turns: 1 });
    expect(view.text).not.toContain('confidential');
    for (const token of mockTokens(prompt, 3, 6).filter((t) => t.trim().length > 3)) expect(view.text).not.toContain(token.trim());
    expect(Object.keys(view.body as object).sort()).toEqual(
      ['budgets', 'created_at', 'expires_at', 'kv_warmth', 'max_turns', 'pool_id', 'replica_id', 'session_id', 'ttl_ms_remaining', 'turns'].sort(),
    );
  });
});

describe('retention', () => {
  it('ORCH-0406 ORCH-0903 keeps a finished task readable for server.retention_ms, then forgets it and frees its memory', async () => {
    gw = await startGateway(testConfig({ server: { retention_ms: 300 } }));
    const g = gw;
    const stream = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: { model: 'demo', prompt: 'short-lived', max_tokens: 8 } });
    const id = stream.headers['x-task-id'] as string;
    const status = await g.get(`/v1/tasks/${id}`);
    expect(status.status).toBe(200);
    // The event log is bounded: started, one event per token, metrics and the terminal event.
    expect((status.body as { last_event_id: number }).last_event_id).toBe(8 + 3);
    expect(g.tasks.size).toBe(1);
    await waitFor(async () => (await g.get(`/v1/tasks/${id}`)).status === 404);
    expect((await g.get(`/v1/tasks/${id}/stream`)).status).toBe(404);
    expect(g.tasks.size).toBe(0);
  });
});

describe('limits', () => {
  it('ORCH-0901 refuses a prompt longer than server.max_prompt_chars naming the field, and takes one at the limit', async () => {
    gw = await startGateway(testConfig({ server: { max_prompt_chars: 10 } }));
    const over = await gw.post('/v1/tasks', { model: 'demo', prompt: 'x'.repeat(11), max_tokens: 1 });
    expect(over.status).toBe(400);
    expect(over.body).toMatchObject({ error: { code: 'INVALID_PARAMS', field: 'prompt' } });
    expect((await gw.post('/v1/tasks', { model: 'demo', prompt: 'x'.repeat(10), max_tokens: 1 })).status).toBe(202);
  });
});
