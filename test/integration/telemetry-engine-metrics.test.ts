// telemetry.scrape_engine_metrics end to end: the real gateway (compose() from main.ts) scrapes
// two llama.cpp fakes' own /metrics over HTTP and folds KV cache usage, waiting and running
// requests into orchqueue_engine_* per replica; a replica that stops serving metrics loses them.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { startLlamacppFake, type LlamacppFake } from '../fakes/llamacpp/fake.ts';
import { lintExposition, readMetricsContract } from '../../tools/metrics-lint/metrics-lint.ts';
import { parsePromText, sampleValue, type ParsedExposition } from '../../src/telemetry/prom-text.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';

const contract = readMetricsContract();

const KV = 'orchqueue_engine_kv_cache_usage_ratio';
const WAITING = 'orchqueue_engine_requests_waiting';
const RUNNING = 'orchqueue_engine_requests_running';

let gateway: TestGateway | undefined;
const fakes: LlamacppFake[] = [];

afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

async function startAll(scrape: boolean): Promise<{ gateway: TestGateway; a: LlamacppFake; b: LlamacppFake }> {
  const a = await startLlamacppFake({ slots: 2, metrics: { kvCacheUsageRatio: 0.625, waiting: 2, running: 1 } });
  const b = await startLlamacppFake({ slots: 2, metrics: { kvCacheUsageRatio: 0.125, waiting: 0, running: 3 } });
  fakes.push(a, b);
  const config = testConfig({
    pools: [
      {
        id: 'llama',
        engine: 'llamacpp',
        model: 'llama',
        health: { interval_ms: 50 },
        replicas: [
          { id: 'r-a', url: a.url, options: { retry_attempts: 1 } },
          { id: 'r-b', url: b.url, options: { retry_attempts: 1 } },
        ],
      },
    ],
    telemetry: { log_level: 'silent', scrape_engine_metrics: scrape },
  });
  gateway = await startGateway(config);
  return { gateway, a, b };
}

async function scrape(g: TestGateway): Promise<{ text: string; parsed: ParsedExposition }> {
  const res = await g.get('/metrics');
  expect(res.status).toBe(200);
  return { text: res.text, parsed: parsePromText(res.text) };
}

const at = (replica: string) => ({ pool: 'llama', replica });

describe('engine metrics folded into GET /metrics', () => {
  // ORCH-0804
  it('exposes each replica’s KV cache usage, waiting and running requests as the engine reports them', async () => {
    const { gateway: g } = await startAll(true);
    const { parsed, text } = await vi.waitFor(
      async () => {
        const s = await scrape(g);
        expect(sampleValue(s.parsed, KV, at('r-a'))).toBeDefined();
        expect(sampleValue(s.parsed, KV, at('r-b'))).toBeDefined();
        return s;
      },
      { timeout: 5_000, interval: 50 },
    );
    expect(sampleValue(parsed, KV, at('r-a'))).toBe(0.625);
    expect(sampleValue(parsed, WAITING, at('r-a'))).toBe(2);
    expect(sampleValue(parsed, RUNNING, at('r-a'))).toBe(1);
    expect(sampleValue(parsed, KV, at('r-b'))).toBe(0.125);
    expect(sampleValue(parsed, WAITING, at('r-b'))).toBe(0);
    expect(sampleValue(parsed, RUNNING, at('r-b'))).toBe(3);
    expect(lintExposition(text, contract)).toEqual([]);
  });

  // ORCH-0804
  it('a replica whose engine stops serving metrics loses its engine series at the next round', async () => {
    const { gateway: g, b } = await startAll(true);
    await vi.waitFor(async () => expect(sampleValue((await scrape(g)).parsed, RUNNING, at('r-b'))).toBe(3), { timeout: 5_000, interval: 50 });
    b.configure({ metrics: false }); // llama-server without --metrics: 501
    const after = await vi.waitFor(
      async () => {
        const s = await scrape(g);
        expect(sampleValue(s.parsed, RUNNING, at('r-b'))).toBeUndefined();
        return s;
      },
      { timeout: 5_000, interval: 100 },
    );
    expect(sampleValue(after.parsed, RUNNING, at('r-a'))).toBe(1);
    expect(sampleValue(after.parsed, 'orchqueue_replica_up', at('r-b'))).toBe(1);
  });

  it('is off by default: no engine series and no request to the engines’ /metrics', async () => {
    const { gateway: g, a, b } = await startAll(false);
    const { parsed } = await scrape(g);
    expect(sampleValue(parsed, 'orchqueue_replica_up', at('r-a'))).toBe(1);
    for (const name of [KV, WAITING, RUNNING]) expect(sampleValue(parsed, name, at('r-a'))).toBeUndefined();
    expect([...a.seen, ...b.seen].some((r) => r.path === '/metrics')).toBe(false);
  });
});
