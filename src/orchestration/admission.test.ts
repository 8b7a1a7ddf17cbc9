// The admission snapshot's forecasts are computed on first read (issue 14: a refusal from a full
// queue should not pay for a start prediction it never uses), once, and equal the pool's own.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startServiceKit, type ServiceKit } from '../../test/support/task-service.ts';
import { poolSnapshot } from './admission.ts';

let kit: ServiceKit | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await kit?.close();
  kit = undefined;
});

describe('pool snapshot forecasts', () => {
  it('predicts the start and the backoff only when admit reads them, and each at most once', async () => {
    kit = await startServiceKit({ pool: { replicas: [{ id: 'mock-0', slots: 1 }] }, mock: { hang_at_token: 0 } });
    await kit.submit();
    await kit.submit();
    const pool = kit.pools.get('demo');
    if (!pool) throw new Error('no demo pool');
    const expected = { startMs: pool.predictStartMs(pool.queue.size), backoffMs: pool.queueBackoffMs() };
    const start = vi.spyOn(pool, 'predictStartMs');
    const backoff = vi.spyOn(pool, 'queueBackoffMs');
    const { forecast } = poolSnapshot(pool);
    expect([start.mock.calls.length, backoff.mock.calls.length]).toEqual([0, 0]);
    expect([forecast.backoffMs, forecast.backoffMs]).toEqual([expected.backoffMs, expected.backoffMs]);
    expect([start.mock.calls.length, backoff.mock.calls.length]).toEqual([0, 1]);
    expect([forecast.startMs, forecast.startMs]).toEqual([expected.startMs, expected.startMs]);
    expect(start.mock.calls).toEqual([[1]]);
  });
});
