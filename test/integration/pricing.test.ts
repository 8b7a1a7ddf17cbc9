// Task cost through the real gateway (issue 13 item 7): a priced mock pool, an unpriced one and
// an OpenRouter-flavoured provider fake that reports its own cost. Checked where the cost goes:
// the task status body, the terminal fact and its audit row, /metrics and session cost budgets.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { terminalRecord } from '../../src/audit/records.ts';
import type { TerminalFact } from '../../src/core/observer.ts';
import { parsePromText, sampleValue } from '../../src/telemetry/prom-text.ts';
import { startOpenAiFake, type OpenAiFake } from '../fakes/openai/fake.ts';
import { expectResponseMatches } from '../support/contract.ts';
import { mockPool, startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { openStream } from '../support/sse-client.ts';

const KEY_ENV = 'ORCHQUEUE_TEST_PRICING_KEY';
const PRICE = { input_per_mtok: 3, cached_input_per_mtok: 0.3, output_per_mtok: 15 };

let router: OpenAiFake;
let gw: TestGateway | undefined;
const facts: TerminalFact[] = [];

beforeAll(async () => {
  process.env[KEY_ENV] = 'sk-fake-key';
  router = await startOpenAiFake({ flavour: 'openrouter', model: 'anthropic/claude-sonnet-4.5', costPerToken: 0.00001 });
});
afterAll(async () => {
  await router.close();
  delete process.env[KEY_ENV];
});
afterEach(async () => {
  await gw?.close();
  gw = undefined;
  facts.length = 0;
});

function pricedConfig(over: Record<string, unknown> = {}) {
  return testConfig({
    pools: [
      mockPool({ id: 'priced', model: 'sonnet', engine_model: 'claude-sonnet-4-5' }),
      mockPool({ id: 'free', model: 'local', cost_per_1k_tokens: 2 }),
      {
        id: 'router', engine: 'openai', model: 'sonnet-via-router', engine_model: 'anthropic/claude-sonnet-4.5',
        replicas: [{ id: 'or', url: router.baseUrl, slots: 2, options: { api_key: { env: KEY_ENV } } }],
      },
    ],
    pricing: [
      { model: 'claude-sonnet-4-5', ...PRICE },
      { model: 'anthropic/claude-sonnet-4.5', ...PRICE },
    ],
    ...over,
  });
}

async function runTask(g: TestGateway, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: { prompt: 'price this please', max_tokens: 8, ...body } });
  const fact = facts.at(-1);
  if (!fact) throw new Error('no terminal fact');
  const status = await g.get(`/v1/tasks/${fact.task_id}`);
  expect(status.status).toBe(200);
  expectResponseMatches('getTask', 200, status.body);
  return status.body as Record<string, unknown>;
}

describe('task cost', () => {
  it('prices a task from the table by the engine model: status, terminal fact, audit row and metric agree', async () => {
    gw = await startGateway(pricedConfig(), { observers: [{ finished: (f) => facts.push(f) }] });
    const status = await runTask(gw, { model: 'sonnet' });
    const fact = facts.at(-1) as TerminalFact;
    const expected = ((fact.prompt_tokens ?? 0) * 3 + fact.tokens_out * 15) / 1e6;
    expect(fact.tokens_out).toBe(8);
    expect(status).toMatchObject({ state: 'completed', cost_source: 'price_table' });
    expect(status.cost_usd).toBeCloseTo(expected, 12);
    expect(status.warnings).toBeUndefined();
    expect(fact).toMatchObject({ cost_source: 'price_table', model: 'sonnet' });
    expect(terminalRecord(fact, new Date(0)).data).toMatchObject({ cost_usd: status.cost_usd, cost_source: 'price_table' });
    const metrics = parsePromText((await gw.get('/metrics')).text);
    expect(sampleValue(metrics, 'orchqueue_cost_usd_total', { pool: 'priced', model: 'sonnet' })).toBeCloseTo(expected, 12);
  });

  it('takes the provider-reported cost over the price table and labels it reported', async () => {
    gw = await startGateway(pricedConfig(), { observers: [{ finished: (f) => facts.push(f) }] });
    const status = await runTask(gw, { model: 'sonnet-via-router' });
    expect(status).toMatchObject({ state: 'completed', cost_source: 'reported' });
    // The fake bills 0.00001 USD per output token (OpenRouter usage.cost).
    expect(status.cost_usd).toBeCloseTo((status.tokens_out as number) * 0.00001, 10);
  });

  it('finishes an unpriced task with a warning and the unpriced metric, never a failure', async () => {
    gw = await startGateway(pricedConfig(), { observers: [{ finished: (f) => facts.push(f) }] });
    const status = await runTask(gw, { model: 'local' });
    expect(status).toMatchObject({ state: 'completed', warnings: ['no price for model local'] });
    expect(status.cost_usd).toBeUndefined();
    expect(status.cost_source).toBeUndefined();
    expect(facts.at(-1)).toMatchObject({ cost_source: 'unpriced' });
    expect(facts.at(-1)?.cost_usd).toBeUndefined();
    const metrics = parsePromText((await gw.get('/metrics')).text);
    expect(sampleValue(metrics, 'orchqueue_unpriced_tasks_total', { pool: 'free' })).toBe(1);
    expect(sampleValue(metrics, 'orchqueue_cost_usd_total', { pool: 'free' })).toBeUndefined();
  });

  it('charges session cost budgets the priced USD, and the fallback rate per 1000 tokens when unpriced', async () => {
    gw = await startGateway(pricedConfig(), { observers: [{ finished: (f) => facts.push(f) }] });
    const priced = await runTask(gw, { model: 'sonnet', session_id: 's-priced' });
    const pricedView = (await gw.get('/v1/sessions/s-priced')).body as { budgets: { cost: { used: number } } };
    expect(pricedView.budgets.cost.used).toBeCloseTo(priced.cost_usd as number, 12);
    await runTask(gw, { model: 'local', session_id: 's-free' });
    const fact = facts.at(-1) as TerminalFact;
    const freeView = (await gw.get('/v1/sessions/s-free')).body as { budgets: { cost: { used: number } } };
    expect(freeView.budgets.cost.used).toBeCloseTo((((fact.prompt_tokens ?? 0) + fact.tokens_out) * 2) / 1000, 12);
  });

  it('refuses the next turn once priced turns have spent the session cost budget', async () => {
    gw = await startGateway(pricedConfig(), { observers: [{ finished: (f) => facts.push(f) }] });
    const created = await gw.post('/v1/sessions', { session_id: 'tight', budgets: { cost: 0.0001 } });
    expect(created.status).toBe(201);
    await runTask(gw, { model: 'sonnet', session_id: 'tight', max_tokens: 16 });
    const next = await gw.post('/v1/tasks', { model: 'sonnet', prompt: 'again', max_tokens: 2, session_id: 'tight' });
    expect(next.status).toBe(402);
    expect((next.body as { error: Record<string, unknown> }).error).toMatchObject({ code: 'BUDGET_EXCEEDED', budget: 'cost' });
  });

  it('applies a reloaded price table to the next task', async () => {
    let next = pricedConfig();
    gw = await startGateway(pricedConfig(), { observers: [{ finished: (f) => facts.push(f) }], loadConfig: async () => ({ ok: true, config: next }) });
    expect((await runTask(gw, { model: 'local' })).warnings).toEqual(['no price for model local']);
    next = pricedConfig({ pricing: [{ model: 'local', input_per_mtok: 1, output_per_mtok: 2 }] });
    expect((await gw.reloadConfig('test')).ok).toBe(true);
    expect(await runTask(gw, { model: 'local' })).toMatchObject({ cost_source: 'price_table' });
  });
});

describe('pricing configuration', () => {
  it('refuses two prices for one model and a negative or absurd price, naming the field', () => {
    expect(() => pricedConfig({ pricing: [{ model: 'a', ...PRICE }, { model: 'a', ...PRICE }] })).toThrow('/pricing/1: a price for model a is already given');
    expect(() => pricedConfig({ pricing: [{ model: 'a', ...PRICE, output_per_mtok: -1 }] })).toThrow('/pricing/0/output_per_mtok');
    expect(() => pricedConfig({ pricing: [{ model: 'a', ...PRICE, input_per_mtok: 1e9 }] })).toThrow('/pricing/0/input_per_mtok');
    expect(() => pricedConfig({ pricing: [{ model: 'a', ...PRICE, currency: 'EUR' }] })).toThrow('/pricing/0/currency');
  });
});
