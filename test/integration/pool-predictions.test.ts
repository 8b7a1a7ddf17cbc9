// Backoff and start predictions that are true from the first request (issue 10, finding 9),
// through the real gateway in front of the llama.cpp fake at a known pace: the first 429 names
// the time until a running task really frees its slot, and a queued task's predicted start
// matches the `started` event it gets.

import { afterEach, describe, expect, it } from 'vitest';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { openStream } from '../support/sse-client.ts';
import { enginePool, kit, waitFor, type FakeEngine } from './engines-support.ts';

const llamacpp = kit('llamacpp');
let gw: TestGateway | undefined;
let fake: FakeEngine | undefined;
afterEach(async () => {
  await gw?.close();
  await fake?.close();
  gw = undefined;
  fake = undefined;
});

describe('predictions from the running work', () => {
  it('answers the first 429 with the time until a slot frees and predicts the queued start from remaining tokens', async () => {
    // 2 slots at 20 tokens/s per stream, 40 tokens each: a slot frees after ≈ 2 s.
    fake = await llamacpp.start({ tokensPerS: 20 });
    const pool = enginePool(llamacpp, [fake], { tokens_per_s: 20, queue: { max_queued: 1, policy: 'reject' } });
    gw = await startGateway(testConfig({ pools: [pool] }));
    const g = gw;
    await waitFor(async () => ((await g.get('/v1/pools/p')).body as { ready: boolean }).ready, 5_000, 'pool ready');
    const body = { model: 'm', prompt: 'tell me a story', max_tokens: 40 };
    for (let i = 0; i < 2; i++) expect((await g.post('/v1/tasks', body)).status).toBe(202);
    await waitFor(() => g.pools.get('p')?.slotsBusy === 2, 5_000, 'both slots busy');
    const queued = await g.post('/v1/tasks', body);
    expect(queued.status).toBe(202);
    const predictedStartMs = (queued.body as { predicted_start_ms: number }).predicted_start_ms;
    const admittedAt = performance.now();
    const refused = await g.post('/v1/tasks', body);
    expect(refused.status).toBe(429);
    const retryAfterMs = (refused.body as { error: { retry_after_ms: number } }).error.retry_after_ms;
    // The average-service-time model said ≈ 1000 / 2 slots = 500 ms here, whatever really ran.
    expect(retryAfterMs).toBeGreaterThan(1_200);
    expect(retryAfterMs).toBeLessThan(2_600);
    expect(predictedStartMs).toBeGreaterThan(1_200);

    const stream = await openStream(`${g.url}/v1/tasks/${(queued.body as { task_id: string }).task_id}/stream`, {
      until: (events) => events.some((e) => e.event === 'started'),
    });
    expect(stream.events[0]?.event).toBe('started');
    const actualMs = performance.now() - admittedAt;
    // Timing on a shared machine: only a coarse bound; bench/scenarios/predictions.ts measures the error.
    expect(Math.abs(predictedStartMs - actualMs) / actualMs).toBeLessThan(0.5);
  });
});
