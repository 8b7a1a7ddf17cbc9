import { describe, expect, it } from 'vitest';
import { checkQuota, type QuotaUsage } from '../../core/tenancy/quota.ts';
import type { LimitName, QuotaLimits } from '../../core/tenancy/limits.ts';
import type { Pool } from '../../pool/pool.ts';
import type { Task, TaskSubmission } from '../task.ts';
import { refusalOf } from './admit-refusals.ts';

// refusalOf reads only the pool's id, queue settings and backoff: a two-field stand-in is the whole surface.
const pool = { id: 'p', config: { queue: { max_queued: 4, policy: 'reject' } }, queueBackoffMs: () => 250 } as unknown as Pool<Task>;
const req = { max_tokens: 10 } as TaskSubmission; // only max_tokens and task_id are read
const now = 1_000_000;
const full: QuotaUsage = { window: { startMs: now - 1_000, requests: 5, tokens: 50 }, inFlight: 5, queued: 5, sessions: { count: 5 }, period: { startMs: now - 10, endMs: now + 60_000, tokens: 50, cost: 50 } };

const cases: [LimitName, QuotaLimits][] = [
  ['requests_per_min', { requests_per_min: 5 }],
  ['tokens_per_min', { tokens_per_min: 55 }],
  ['max_concurrent_tasks', { max_concurrent_tasks: 5 }],
  ['max_queued_tasks', { max_queued_tasks: 5 }],
  ['budget.tokens', { budget: { period: 'month', tokens: 55 } }],
  ['budget.cost', { budget: { period: 'day', cost: 50 } }],
];

describe('the admit script refusals in the words of the in-memory quota check', () => {
  it.each(cases)('words a %s refusal as core checkQuota does', (limit, limits) => {
    const memory = checkQuota({ now, subjects: [{ subject: 'tenant:acme', limits, usage: full }] }, { maxTokens: 10, budgetTokens: 10, budgetCost: 10, newSession: false, backoffMs: 250 });
    if (memory.ok) throw new Error(`${limit} should refuse`);
    const max = Number(memory.error.message.match(/\((\d+)/)?.[1]);
    const cluster = refusalOf({ kind: 'refused', subject: 'tenant:acme', limit, max }, req, pool, [{ subject: 'tenant:acme', limits }]);
    expect(cluster.message).toBe(memory.error.message);
    expect(cluster).toMatchObject({ code: 'RATE_LIMITED', limit });
  });

  it('falls back to the pool backoff when the script gives no reset time', () => {
    const refused = refusalOf({ kind: 'refused', subject: 'key:k1', limit: 'max_queued_tasks', max: 3 }, req, pool, []);
    expect(refused).toMatchObject({ message: 'key k1 reached its max_queued_tasks limit (3 tasks queued)', retry_after_ms: 250 });
  });
});
