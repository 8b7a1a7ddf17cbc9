// `orchqueue models` (a child process) against the real gateway on an ephemeral port: the
// catalog as a table, `--json` as the merged catalog, and a stray argument refused.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockPool, startGateway, testConfig, type TestGateway } from '../../test/support/gateway.ts';
import { cli } from '../../test/support/cli-child.ts';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway(testConfig({
    pools: [mockPool({ aliases: ['demo-alias'] })],
    catalog: [{ id: 'gpt-5', description: 'not routed yet', context_length: 400000 }],
    pricing: [{ model: 'demo', input_per_mtok: 0.5, cached_input_per_mtok: 0.05, output_per_mtok: 1.5 }],
  }));
});
afterAll(async () => gw?.close());

describe('orchqueue models', () => {
  it('prints the catalog as a table: served pool models and aliases with prices, then catalog entries', async () => {
    const run = await cli(['models'], { ORCHQUEUE_URL: gw.url });
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^MODEL +SERVED +POOL +ENGINE +CONTEXT +IN \$\/MTOK +OUT \$\/MTOK +SOURCE/);
    expect(lines[1]).toMatch(/^demo +yes +demo +mock +\d+ +0\.5 +1\.5 +pool$/);
    expect(lines[2]).toMatch(/^demo-alias +yes +demo +mock .* pool +demo$/);
    expect(lines[3]).toMatch(/^gpt-5 +no +400000 +catalog +not routed yet$/);
    expect(lines).toHaveLength(4);
  });

  it('--json exports the merged catalog, one object per model with its catalog fields', async () => {
    const run = await cli(['models', '--json'], { ORCHQUEUE_URL: gw.url });
    expect(run.code).toBe(0);
    const { models } = JSON.parse(run.stdout) as { models: Record<string, unknown>[] };
    expect(models.map((m) => m.id)).toEqual(['demo', 'demo-alias', 'gpt-5']);
    expect(models[0]).toMatchObject({ id: 'demo', source: 'pool', served: true, pool_id: 'demo', engine: 'mock', ready: true, pricing: { input_per_mtok: 0.5, cached_input_per_mtok: 0.05, output_per_mtok: 1.5, currency: 'USD' } });
    expect(models[2]).toEqual({ id: 'gpt-5', source: 'catalog', served: false, context_length: 400000, description: 'not routed yet' });
  });

  it('exits 2 for an argument it does not take, and 7 when the gateway cannot be reached', async () => {
    expect((await cli(['models', 'demo'], { ORCHQUEUE_URL: gw.url })).code).toBe(2);
    expect((await cli(['models'], { ORCHQUEUE_URL: 'http://127.0.0.1:9' })).code).toBe(7);
  });
});
