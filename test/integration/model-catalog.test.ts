// The model catalog through the real gateway (issue 13 item 8): mock pools, catalog entries,
// prices, and an adapter that can list models (the registry's mock adapter given a `models()`),
// served by GET /v1/models; listings cached on the clock port, failures and hangs never break it.

import { afterEach, describe, expect, it } from 'vitest';
import type { EngineCatalog, WorkerAdapter } from '../../src/adapters/contract.ts';
import { engineCatalog } from '../../src/adapters/registry.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { expectResponseMatches } from '../support/contract.ts';
import { mockPool, startGateway, testConfig, type TestGateway } from '../support/gateway.ts';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

/** How the listing pool's adapter answers `models()`, and how often it was asked. */
interface ListingScript {
  calls: number;
  answer: (signal: AbortSignal) => Promise<string[]>;
}

/** The real registry, except that replicas of pool `lister` can list models as the script says. */
function listingEngines(script: ListingScript): EngineCatalog {
  return {
    ...engineCatalog,
    createAdapter(pool, replica) {
      const adapter = engineCatalog.createAdapter(pool, replica);
      if (pool.id !== 'lister') return adapter;
      const models = (signal: AbortSignal) => {
        script.calls++;
        return script.answer(signal);
      };
      return Object.assign(Object.create(adapter) as WorkerAdapter, { models });
    },
  };
}

const config = () => testConfig({
  pools: [
    mockPool({ id: 'demo', model: 'demo', aliases: ['demo-alias'] }),
    mockPool({ id: 'lister', model: 'llama', engine_model: 'llama3.2:3b' }),
  ],
  catalog: [
    { id: 'demo', description: 'the built-in mock', context_length: 4096 },
    { id: 'gpt-5', description: 'not routed yet', pricing: { input_per_mtok: 1.25, output_per_mtok: 10 } },
  ],
  pricing: [{ model: 'llama3.2:3b', input_per_mtok: 0.1, output_per_mtok: 0.2 }],
  model_discovery: { ttl_ms: 60_000, timeout_ms: 200 },
});

type ModelEntry = { id: string; orchqueue: Record<string, unknown> };
async function models(g: TestGateway): Promise<ModelEntry[]> {
  const res = await g.get('/v1/models');
  expect(res.status).toBe(200);
  expectResponseMatches('listModels', 200, res.body);
  return (res.body as { data: ModelEntry[] }).data;
}

describe('GET /v1/models: the merged catalog', () => {
  it('lists pool models and aliases first, then catalog entries, then listed ids, each labelled', async () => {
    const script: ListingScript = { calls: 0, answer: async () => ['llama3.2:3b', 'qwen3:8b', 'gpt-5', 'demo'] };
    gw = await startGateway(config(), { engines: listingEngines(script) });
    const data = await models(gw);
    expect(data.map((m) => [m.id, m.orchqueue.source, m.orchqueue.served])).toEqual([
      ['demo', 'pool', true],
      ['demo-alias', 'pool', true],
      ['llama', 'pool', true],
      ['gpt-5', 'catalog', false],
      ['qwen3:8b', 'listing', false],
    ]);
    expect(data[0]?.orchqueue).toMatchObject({ pool_id: 'demo', engine: 'mock', description: 'the built-in mock', context_length: 4096, ready: true, capabilities: { chat: true } });
    expect(data[1]?.orchqueue).toMatchObject({ alias_of: 'demo', description: 'the built-in mock' });
    expect(data[2]?.orchqueue).toMatchObject({ pool_id: 'lister', pricing: { input_per_mtok: 0.1, output_per_mtok: 0.2, currency: 'USD' } });
    expect(data[3]?.orchqueue).toEqual({ source: 'catalog', served: false, description: 'not routed yet', pricing: { input_per_mtok: 1.25, output_per_mtok: 10, currency: 'USD' } });
    expect(data[4]?.orchqueue).toEqual({ source: 'listing', served: false, listed_by: 'lister' });
  });

  it('reuses a listing until its TTL passes on the clock, then asks again', async () => {
    const clock = new FakeClock();
    let ids = ['first-model'];
    const script: ListingScript = { calls: 0, answer: async () => ids };
    gw = await startGateway(config(), { engines: listingEngines(script), clock });
    expect((await models(gw)).at(-1)?.id).toBe('first-model');
    ids = ['second-model'];
    await Promise.all([models(gw), models(gw)]);
    expect(script.calls).toBe(1);
    clock.advance(60_000);
    expect((await models(gw)).at(-1)?.id).toBe('second-model');
    expect(script.calls).toBe(2);
  });

  it('keeps serving the static catalog and the last good listing when a listing fails', async () => {
    const clock = new FakeClock();
    let fail = false;
    const script: ListingScript = { calls: 0, answer: async () => (fail ? Promise.reject(new Error('connection refused')) : ['qwen3:8b']) };
    gw = await startGateway(config(), { engines: listingEngines(script), clock });
    expect((await models(gw)).map((m) => m.id)).toContain('qwen3:8b');
    fail = true;
    clock.advance(60_000);
    const after = await models(gw);
    expect(script.calls).toBe(2);
    expect(after.map((m) => m.id)).toEqual(['demo', 'demo-alias', 'llama', 'gpt-5', 'qwen3:8b']);
  });

  it('answers without a listing that hangs past model_discovery.timeout_ms, and aborts it', async () => {
    let aborted = false;
    const script: ListingScript = {
      calls: 0,
      answer: (signal) => {
        signal.addEventListener('abort', () => (aborted = true));
        return new Promise<string[]>(() => undefined); // never settles: the race must bound it
      },
    };
    gw = await startGateway(config(), { engines: listingEngines(script) });
    const data = await models(gw);
    expect(data.map((m) => m.id)).toEqual(['demo', 'demo-alias', 'llama', 'gpt-5']);
    expect(aborted).toBe(true);
  });

  it('asks no adapter when model_discovery is off', async () => {
    const script: ListingScript = { calls: 0, answer: async () => ['qwen3:8b'] };
    gw = await startGateway(testConfig({ ...config(), model_discovery: { enabled: false } }), { engines: listingEngines(script) });
    expect((await models(gw)).map((m) => m.id)).not.toContain('qwen3:8b');
    expect(script.calls).toBe(0);
  });

  it('refuses a config with two catalog entries for one id or an unknown entry field, naming it', () => {
    expect(() => testConfig({ catalog: [{ id: 'x' }, { id: 'x' }] })).toThrow('/catalog/1: an entry for model x is already given');
    expect(() => testConfig({ catalog: [{ id: 'x', owner: 'me' }] })).toThrow('(owner)');
    expect(() => testConfig({ catalog: [{ id: 'x', context_length: 0 }] })).toThrow('/catalog/0/context_length');
  });
});
