// An engine outage on a pool's only replica (issue 10, finding 8), through the real gateway in
// front of the llama.cpp fake: a task that failed before its first token runs once the replica
// recovers within its deadline, or fails at once with the breaker's remaining wait as its hint;
// readiness follows the engine.

import { afterEach, describe, expect, it } from 'vitest';
import { fakeCompletion } from '../fakes/http/fake-tokens.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { openStream, terminal, tokens } from '../support/sse-client.ts';
import { enginePool, generations, kit, waitFor, type FakeEngine } from './engines-support.ts';

const llamacpp = kit('llamacpp');
let gw: TestGateway | undefined;
let fake: FakeEngine | undefined;
afterEach(async () => {
  await gw?.close();
  await fake?.close();
  gw = undefined;
  fake = undefined;
});

/** One llama.cpp replica whose first generation is cut before its first token; the breaker opens on that one failure. */
async function setup(breakerOpenMs: number) {
  fake = await llamacpp.start({ mode: { kind: 'reset-at-token', at: 0 } });
  const health = { interval_ms: 50, max_backoff_ms: 200, breaker_failures: 1, breaker_open_ms: breakerOpenMs };
  gw = await startGateway(testConfig({ pools: [enginePool(llamacpp, [fake], { health })] }));
  const g = gw;
  await waitFor(async () => ((await g.get('/v1/pools/p')).body as { ready: boolean }).ready, 5_000, 'pool ready');
  return { g, f: fake };
}

const body = (over: Record<string, unknown> = {}) => ({ model: 'm', prompt: 'tell me a story', max_tokens: 6, seed: 7, ...over });

describe('engine outage on a single replica', () => {
  it('runs a task that failed before its first token once the engine is back, within its deadline', async () => {
    const { g, f } = await setup(400);
    const stream = openStream(`${g.url}/v1/tasks`, { method: 'POST', body: body({ deadline_ms: 8_000 }) });
    await waitFor(async () => generations(llamacpp, f).length >= 1, 5_000, 'first generation');
    await f.refuseConnections();
    await waitFor(async () => (await g.get('/readyz')).status === 503, 5_000, '/readyz unready while the engine is down');
    expect(((await g.get('/v1/pools/p')).body as { ready: boolean }).ready).toBe(false);
    await f.setMode('ready');
    await f.acceptConnections();

    const result = await stream;
    expect(tokens(result.events)).toEqual(fakeCompletion('tell me a story', 7, 6));
    expect(terminal(result.events)).toEqual([expect.objectContaining({ event: 'end', data: expect.objectContaining({ finish_reason: 'length' }) })]);
    // Both attempts ran on the only replica: the second once it had recovered.
    expect(result.events.filter((e) => e.event === 'started').map((e) => e.data.replica_id)).toEqual(['r0', 'r0']);
    expect(generations(llamacpp, f)).toHaveLength(2);
    expect((await g.get('/readyz')).status).toBe(200);
  });

  it('fails a task without a deadline at once, with the open breaker as its retry hint', async () => {
    const { g, f } = await setup(5_000);
    const began = performance.now();
    const result = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: body() });
    const tookMs = performance.now() - began;
    const end = terminal(result.events);
    expect(end).toEqual([expect.objectContaining({ event: 'error', data: expect.objectContaining({ code: 'WORKER_RESET', retriable: true }) })]);
    // Not after the 5 s the breaker stays open (it used to wait, then fail anyway).
    expect(tookMs).toBeLessThan(2_500);
    const retryAfterMs = (end[0]?.data as { retry_after_ms: number }).retry_after_ms;
    expect(retryAfterMs).toBeGreaterThan(2_500);
    expect(retryAfterMs).toBeLessThanOrEqual(5_000);
    expect(generations(llamacpp, f)).toHaveLength(1);
    // New work is refused with the same honest wait, not a probe interval.
    const refused = await g.post('/v1/tasks', body());
    expect(refused.status).toBe(503);
    const error = (refused.body as { error: { code: string; retry_after_ms: number } }).error;
    expect(error.code).toBe('POOL_UNREADY');
    expect(error.retry_after_ms).toBeGreaterThan(2_500);
  });

  it('fails at once a task whose deadline ends before the breaker allows a retry', async () => {
    const { g } = await setup(5_000);
    const began = performance.now();
    const result = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: body({ deadline_ms: 3_000 }) });
    expect(performance.now() - began).toBeLessThan(2_500);
    expect(terminal(result.events)).toEqual([expect.objectContaining({ event: 'error', data: expect.objectContaining({ code: 'WORKER_RESET', retriable: true }) })]);
  });
});
