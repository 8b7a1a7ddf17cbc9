import { describe, expect, it } from 'vitest';
import { createMockAdapter } from '../adapters/mock/adapter.ts';
import { validateConfig } from '../config/load.ts';
import type { PoolConfig } from '../config/schema.ts';
import { backoffMs, expectedRemainingTokens } from '../core/admission/predict.ts';
import { ForecastMemo } from './forecast-memo.ts';
import { Pool } from './pool.ts';
import { Replica } from './replica.ts';

describe('ForecastMemo', () => {
  it('computes again exactly when an input differs, by value or by identity', () => {
    const memo = new ForecastMemo();
    let runs = 0;
    const a = {};
    const b = {};
    let inputs: unknown[] = [1, a];
    const read = () => memo.read((into) => into.push(...inputs), () => ({ value: ++runs, keep: true }));
    expect([read(), read()]).toEqual([1, 1]);
    inputs = [1, b];
    expect(read()).toBe(2);
    inputs = [1, b, 3];
    expect(read()).toBe(3);
    inputs = [Number.NaN, b, 3];
    expect([read(), read()]).toEqual([4, 4]);
  });

  it('does not keep an answer the model marks as not to be kept', () => {
    const memo = new ForecastMemo();
    let runs = 0;
    const read = () => memo.read((into) => into.push(1), () => ({ value: ++runs, keep: false }));
    expect([read(), read()]).toEqual([1, 2]);
  });
});

const clock = { now: () => 0, monotonic: () => 0 };

function fullPool(): { pool: Pool<{ id: string; priority: 'interactive'; maxTokens: number }>; tokens: number[] } {
  const result = validateConfig({ pools: [{ id: 'p', engine: 'mock', model: 'm', replicas: [{ id: 'a' }, { id: 'b' }], queue: { max_queued: 2, policy: 'reject' } }] });
  if (!result.ok) throw new Error(result.problems.join('; '));
  const config = result.config.pools[0] as PoolConfig;
  const replicas = ['a', 'b'].map((id) => {
    const r = new Replica({ pool: config, config: { id }, adapter: createMockAdapter({ baseUrl: '', model: 'm', timeouts: { connectMs: 1, firstByteMs: 1, idleMs: 1 }, options: {}, slots: 1, mock: {} }), clock, defaultSlots: 1 });
    r.state = 'ready';
    return r;
  });
  const pool = new Pool<{ id: string; priority: 'interactive'; maxTokens: number }>(config, replicas, { maxTokensOf: (e) => e.maxTokens });
  const tokens = [0, 0];
  replicas.forEach((r, i) => r.lease({ maxTokens: 100, tokensOut: () => tokens[i] ?? 0 }));
  pool.queue.offer({ id: 'q1', priority: 'interactive', maxTokens: 40 });
  pool.queue.offer({ id: 'q2', priority: 'interactive', maxTokens: 60 });
  return { pool, tokens };
}

/** The model computed afresh for the pool as it is now. */
function fresh(pool: Pool<{ id: string; priority: 'interactive'; maxTokens: number }>): number {
  const queued = [...pool.queue].map((e) => expectedRemainingTokens(e.maxTokens, 0, pool.stats.fill));
  return backoffMs({ groups: pool.slotGroups(), queued, maxQueued: pool.config.queue.max_queued, fallbackMs: pool.recoveryMs() });
}

describe("a full pool's queue back-off (issue 14: remembered across a burst of refusals)", () => {
  it('is always what the model computes now: after tokens, a swapped queue entry, a measured speed, a replica going down', () => {
    const { pool, tokens } = fullPool();
    const first = pool.queueBackoffMs();
    expect(first).toBe(fresh(pool));
    expect(pool.queueBackoffMs()).toBe(first);
    tokens[0] = 30;
    expect(pool.queueBackoffMs()).toBe(fresh(pool));
    expect(pool.queueBackoffMs()).not.toBe(first);
    pool.queue.remove('q2');
    pool.queue.offer({ id: 'q3', priority: 'interactive', maxTokens: 5 });
    expect(pool.queueBackoffMs()).toBe(fresh(pool));
    (pool.replicas[1] as Replica).observeSpeed(400);
    expect(pool.queueBackoffMs()).toBe(fresh(pool));
    (pool.replicas[0] as Replica).state = 'failed';
    expect(pool.queueBackoffMs()).toBe(fresh(pool));
  });

  it('with no replica up is the recovery wait, not a remembered figure', () => {
    const { pool } = fullPool();
    for (const r of pool.replicas) r.state = 'failed';
    expect(pool.queueBackoffMs()).toBe(fresh(pool));
    expect(pool.queueBackoffMs()).toBe(Math.max(1, Math.ceil(pool.recoveryMs())));
  });
});
