// Fallback pools (issue 13 item 6) through the real gateway: an Anthropic pool (its fake) that
// answers 529 overloaded hands the task to its OpenAI-compatible fallback (its fake) before the
// first token; the stream has exactly one terminal event, and the audit's placement rows show
// both hops. A failure after the first token is never retried, on any pool.

import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { AdmittedFact, PlacedFact } from '../../src/core/observer.ts';
import { startAnthropicFake, type AnthropicFake } from '../fakes/anthropic/fake.ts';
import { startOpenAiFake, type OpenAiFake } from '../fakes/openai/fake.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { openStream, terminal } from '../support/sse-client.ts';

const ANTHROPIC_ENV = 'ORCHQUEUE_TEST_FALLBACK_ANTHROPIC_KEY';
const OPENAI_ENV = 'ORCHQUEUE_TEST_FALLBACK_OPENAI_KEY';

let gw: TestGateway | undefined;
let primary: AnthropicFake | undefined;
let backup: OpenAiFake | undefined;
afterEach(async () => {
  await gw?.close();
  await primary?.close();
  await backup?.close();
  gw = undefined;
  primary = undefined;
  backup = undefined;
});

let admitted: AdmittedFact[] = [];
let placed: PlacedFact[] = [];

interface Setup {
  audited?: boolean;
  claude?: Record<string, unknown>;
  gpt?: Record<string, unknown>;
  remainingRequests?: number;
}

async function setup({ audited = false, claude = {}, gpt = {}, remainingRequests }: Setup = {}) {
  admitted = [];
  placed = [];
  process.env[ANTHROPIC_ENV] = 'sk-ant-fallback-0123';
  process.env[OPENAI_ENV] = 'sk-fallback-0123';
  primary = await startAnthropicFake({ apiKey: 'sk-ant-fallback-0123', model: 'claude-fake', ...(remainingRequests !== undefined ? { remainingRequests } : {}) });
  backup = await startOpenAiFake({ apiKey: 'sk-fallback-0123', model: 'gpt-fake' });
  const pools = [
    {
      id: 'claude',
      engine: 'anthropic',
      model: 'claude',
      engine_model: 'claude-fake',
      fallbacks: ['gpt'],
      replicas: [{ id: 'anthropic', url: primary.url, slots: 2, options: { api_key: { env: ANTHROPIC_ENV }, overload_retry_after_ms: 5_000 } }],
      ...claude,
    },
    {
      id: 'gpt',
      engine: 'openai',
      model: 'gpt',
      engine_model: 'gpt-fake',
      replicas: [{ id: 'openai', url: backup.baseUrl, slots: 2, options: { api_key: { env: OPENAI_ENV }, overload_retry_after_ms: 5_000 } }],
      ...gpt,
    },
  ];
  const observers = [{ admitted: (fact: AdmittedFact) => void admitted.push(fact), placed: (fact: PlacedFact) => void placed.push(fact) }];
  gw = await startGateway(testConfig({ pools, ...(audited ? { audit: { backend: 'pglite', data_dir: 'memory://' } } : {}) }), { observers });
  for (let i = 0; i < 200; i++) {
    const pools = (await gw.get('/v1/pools')).body as { pools?: Array<{ ready: boolean }> } | Array<{ ready: boolean }>;
    const list = Array.isArray(pools) ? pools : (pools.pools ?? []);
    if (list.length === 2 && list.every((p) => p.ready)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return gw;
}

const body = { model: 'claude', prompt: 'hello there', max_tokens: 4 };
const generations = (fake: { seen: Array<{ path: string }> } | undefined, path: string) => fake?.seen.filter((r) => r.path.startsWith(path)).length ?? 0;

async function placements(g: TestGateway, taskId: string): Promise<Array<{ pool_id: string; data: Record<string, unknown> }>> {
  // The writer group-commits: wait until the terminal row is in.
  for (let i = 0; i < 100; i++) {
    const rows = ((await g.get(`/v1/audit?task_id=${taskId}`)).body as { rows: Array<{ kind: string; pool_id: string; data: Record<string, unknown> }> }).rows;
    if (rows.some((r) => r.kind === 'terminal')) return rows.filter((r) => r.kind === 'placement');
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no terminal audit row for ${taskId}`);
}

describe('fallback pools', () => {
  it('hands a task the primary refuses with 529 to the fallback before the first token: one terminal event, both hops audited', async () => {
    const g = await setup({ audited: true });
    await primary?.setMode('overloaded');
    const taskId = randomUUID();
    const run = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: { ...body, task_id: taskId } });
    expect(run.status).toBe(200);
    const ends = terminal(run.events);
    expect(ends.map((e) => e.event)).toEqual(['end']);
    const started = run.events.filter((e) => e.event === 'started').map((e) => e.data['pool_id']);
    expect(started).toEqual(['claude', 'gpt']);
    expect(generations(primary, '/v1/messages')).toBe(1);
    expect(generations(backup, '/v1/chat/completions')).toBe(1);
    // The fallback was asked for its own engine model.
    expect((backup?.seen.find((r) => r.path.startsWith('/v1/chat/completions'))?.body as { model: string }).model).toBe('gpt-fake');

    const rows = await placements(g, taskId);
    expect(rows.map((r) => [r.pool_id, r.data['attempt']])).toEqual([['claude', 1], ['gpt', 2]]);
    expect(rows[1]?.data['decision']).toMatch(/^fallback 1: pool claude → gpt after REPLICA_EXHAUSTED; /);
    const status = (await g.get(`/v1/tasks/${taskId}`)).body as Record<string, unknown>;
    expect(status).toMatchObject({ state: 'completed', pool_id: 'gpt', engine: 'openai' });
  });

  it('never retries a failure after the first token, on the pool or its fallback', async () => {
    const g = await setup();
    await primary?.setMode({ kind: 'reset-at-token', at: 2 });
    const run = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body });
    const ends = terminal(run.events);
    expect(ends).toHaveLength(1);
    expect(ends[0]).toMatchObject({ event: 'error', data: { code: 'WORKER_RESET' } });
    expect(run.events.filter((e) => e.event === 'started')).toHaveLength(1);
    expect(generations(backup, '/v1/chat/completions')).toBe(0);
  });

  it('ends with the primary error when the fallback is not ready, without waiting out the overload', async () => {
    const g = await setup();
    await primary?.setMode('overloaded');
    await backup?.close();
    backup = undefined;
    // The fallback's replica goes unready once its probe fails.
    for (let i = 0; i < 200; i++) {
      const pools = JSON.stringify((await g.get('/v1/pools')).body);
      if (/"id":"gpt"[^}]*"ready":false/.test(pools) || pools.includes('"ready":false')) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const run = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body });
    const ends = terminal(run.events);
    expect(ends).toHaveLength(1);
    expect(ends[0]).toMatchObject({ event: 'error', data: { code: 'REPLICA_EXHAUSTED' } });
    // The provider said 5 s; the hint is what is left of it when the task ends (a few ms less on a busy machine).
    const retry = (ends[0]?.data as { retry_after_ms?: number }).retry_after_ms ?? 0;
    expect(retry).toBeGreaterThan(4_500);
    expect(retry).toBeLessThanOrEqual(5_000);
  });

  it("admits into the fallback when the primary provider's budget is spent and fallback_on_no_capacity is set", async () => {
    const g = await setup({ remainingRequests: 1, claude: { fallback_on_no_capacity: true } });
    const first = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body });
    expect(terminal(first.events)[0]?.event).toBe('end');
    const second = await g.post('/v1/tasks', body);
    expect(second.status).toBe(202);
    const id = (second.body as { task_id: string }).task_id;
    const run = await openStream(`${g.url}/v1/tasks/${id}/stream`);
    expect(terminal(run.events).map((e) => e.event)).toEqual(['end']);
    expect(run.events.filter((e) => e.event === 'started').map((e) => e.data['pool_id'])).toEqual(['gpt']);
    expect(admitted.at(-1)).toMatchObject({ task_id: id, pool_id: 'gpt', fallback_from_pool_id: 'claude', fallback_code: 'RATE_LIMITED' });
    expect(generations(primary, '/v1/messages')).toBe(1);
  });

  it('answers the honest 429 without fallback_on_no_capacity', async () => {
    const g = await setup({ remainingRequests: 1 });
    await openStream(`${g.url}/v1/tasks`, { method: 'POST', body });
    const second = await g.post('/v1/tasks', body);
    expect(second.status).toBe(429);
    expect(generations(backup, '/v1/chat/completions')).toBe(0);
  });

  it('rewrites an OpenAI conversation for the Anthropic fallback and puts the handoff warnings in the decision', async () => {
    const g = await setup({ claude: { fallbacks: [] }, gpt: { fallbacks: ['claude'] } });
    await backup?.setMode('overloaded');
    const chat = {
      model: 'gpt',
      max_tokens: 4,
      messages: [
        { role: 'developer', content: 'Be brief.' },
        { role: 'assistant', content: 'Hi, how can I help?' },
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call.1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Zürich"}' } }] },
        { role: 'tool', tool_call_id: 'call.1', content: '21 °C' },
      ],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
    };
    const answer = await g.post('/v1/chat/completions', chat);
    expect(answer.status, answer.text).toBe(200);
    expect(placed.map((p) => p.pool_id)).toEqual(['gpt', 'claude']);
    expect(placed[1]?.decision).toMatch(/^fallback 1: pool gpt → claude after REPLICA_EXHAUSTED; .*; handoff: role_renamed messages\[0\]\.role, tool_call_id_rewritten messages\[3\]\.tool_calls\[0\]\.id, turn_inserted messages\[1\]$/);
    const sent = primary?.seen.find((r) => r.path === '/v1/messages')?.body as { system: string; messages: Array<{ role: string; content: Array<Record<string, unknown>> }> };
    expect(sent.system).toBe('Be brief.');
    expect(sent.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user']);
    expect(sent.messages[3]?.content.at(-1)).toMatchObject({ type: 'tool_use', id: 'call_1' });
    expect(sent.messages[4]?.content[0]).toMatchObject({ type: 'tool_result', tool_use_id: 'call_1' });
  });
});
