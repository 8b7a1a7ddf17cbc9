import { describe, expect, it } from 'vitest';
import { createMockAdapter } from '../adapters/mock/adapter.ts';
import { validateConfig } from '../config/load.ts';
import type { PoolConfig } from '../config/schema.ts';
import { backoffMs, expectedRemainingTokens, predictStartMs } from '../core/admission/predict.ts';
import { FairQueue, type QueueEntry } from '../core/queue/fair-queue.ts';
import { Pool, queueOptions } from './pool.ts';
import { Replica, type Lease } from './replica.ts';
import { seededRandom } from '../../test/support/seeded-random.ts';

interface Entry extends QueueEntry {
  maxTokens: number;
}

const clock = { now: () => 0, monotonic: () => 0 };

function poolConfig(replicas: number, maxQueued: number): PoolConfig {
  const ids = Array.from({ length: replicas }, (_, i) => ({ id: `r${i}` }));
  const result = validateConfig({ pools: [{ id: 'p', engine: 'mock', model: 'm', replicas: ids, queue: { max_queued: maxQueued } }] });
  if (!result.ok) throw new Error(result.problems.join('; '));
  return result.config.pools[0] as PoolConfig;
}

function replica(config: PoolConfig, i: number, slots: number): Replica {
  const adapter = createMockAdapter({ baseUrl: '', model: 'm', timeouts: { connectMs: 1, firstByteMs: 1, idleMs: 1 }, options: {}, slots, mock: {} });
  const r = new Replica({ pool: config, config: { id: `r${i}` }, adapter, clock, defaultSlots: slots });
  r.state = 'ready';
  return r;
}

/** The predictions as the walk over every lease computes them (slotGroups), for comparison. */
function walked(pool: Pool<Entry>, position: number): { startMs: number; backoffMs: number } {
  const { fill } = pool.stats;
  const queued = [...pool.retry, ...pool.queue].map((e) => expectedRemainingTokens(e.maxTokens, 0, fill));
  const at = pool.retry.length + position;
  return {
    startMs: predictStartMs({ groups: pool.slotGroups(), queued: queued.slice(0, at), position: at }),
    backoffMs: backoffMs({ groups: pool.slotGroups(), queued, maxQueued: pool.config.queue.max_queued, fallbackMs: pool.recoveryMs() }),
  };
}

describe('predictions from the running tally (issue 14)', () => {
  it('match the walk over every lease on random lease sets, as tokens stream and leases end', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const rnd = seededRandom(seed);
      const replicas = 1 + (seed % 3 === 0 ? 1 + Math.floor(rnd() * 2) : 0);
      const maxQueued = 1 + Math.floor(rnd() * 40);
      const config = poolConfig(replicas, maxQueued);
      const set = Array.from({ length: replicas }, (_, i) => replica(config, i, 1 + Math.floor(rnd() * 60)));
      // Sometimes a queue longer than the pool's max_queued, as after a shrinking reload: the backoff then walks it.
      const capacity = maxQueued + (seed % 2 === 0 ? Math.floor(rnd() * 6) : 0);
      const queue = new FairQueue<Entry>({ ...queueOptions(config), maxQueued: capacity });
      const pool = new Pool<Entry>(config, set, { maxTokensOf: (e) => e.maxTokens, queue });
      if (rnd() < 0.5) pool.stats.observe({ serviceMs: 900 * rnd(), tokens: 5, ttftMs: 300 * rnd(), tokensPerS: 1 + 80 * rnd(), maxTokens: 5 + Math.floor(rnd() * 20) });
      for (const r of set) if (rnd() < 0.5) r.observeSpeed(1 + 100 * rnd());
      const held: Array<{ lease: Lease; out: { n: number }; maxTokens: number }> = [];
      for (let step = 0; step < 120; step++) {
        const roll = rnd();
        const r = set[Math.floor(rnd() * set.length)] as Replica;
        if (roll < 0.35) {
          // A few max_tokens values, as clients send them, so equal keys are common.
          const maxTokens = [1, 8, 16, 64, 600][Math.floor(rnd() * 5)] as number;
          const out = { n: 0 };
          held.push({ lease: r.lease({ maxTokens, tokensOut: () => out.n }), out, maxTokens });
        } else if (roll < 0.75 && held.length > 0) {
          const h = held[Math.floor(rnd() * held.length)] as (typeof held)[number];
          h.out.n += 1 + Math.floor(rnd() * 3); // may pass max_tokens: the remaining work is 0 then
          h.lease.progressed();
        } else if (roll < 0.85 && held.length > 0) {
          const [h] = held.splice(Math.floor(rnd() * held.length), 1);
          h?.lease.release();
          h?.lease.release(); // idempotent
        } else if (pool.queue.size < capacity) {
          pool.queue.offer({ id: `q${seed}-${step}`, priority: 'interactive', maxTokens: 1 + Math.floor(rnd() * 100) });
        }
        if (rnd() < 0.05) (set[0] as Replica).state = (set[0] as Replica).state === 'ready' ? 'unready' : 'ready';
        const position = pool.queue.size;
        expect({ startMs: pool.predictStartMs(position), backoffMs: pool.queueBackoffMs() }, `seed ${seed} step ${step}`).toEqual(walked(pool, position));
      }
    }
  });

  it('counts a lease by tokens left once its first token came, and drops it when released', () => {
    const config = poolConfig(1, 10);
    const r = replica(config, 0, 4);
    const out = { n: 0 };
    const lease = r.lease({ maxTokens: 10, tokensOut: () => out.n });
    expect(r.tally.soonest(4, 1)).toEqual([{ remainingTokens: 10, firstTokenSeen: false }]);
    out.n = 3;
    lease.progressed();
    expect(r.tally.soonest(4, 0.5)).toEqual([{ remainingTokens: 3.5, firstTokenSeen: true }]);
    lease.release();
    lease.progressed();
    expect(r.tally.size).toBe(0);
    expect(r.slotsBusy).toBe(0);
  });
});
