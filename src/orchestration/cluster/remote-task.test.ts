// The status of a task held by another replica, rebuilt from its stream's events and its spec.

import { describe, expect, it } from 'vitest';
import type { TaskEvent } from '../../core/task/events.ts';
import type { TaskLocation } from '../../state/redis/task-registry.ts';
import { statusOf } from './remote-task.ts';
import type { TaskSpec } from './task-spec.ts';

const spec: TaskSpec = {
  id: 't1', submission: { model: 'demo', prompt: 'p', max_tokens: 8, priority: 'batch' }, owner: { tenant: 'default', keyId: 'anonymous' },
  correlationId: 'c1', poolId: 'demo', job: { promptTokens: 1, maxTokens: 8, allowFallback: false }, promptTokens: 1, createdAt: Date.UTC(2026, 0, 1), admittedBy: 'gw-a',
};
const at = (state: TaskLocation['state']): TaskLocation => ({ owner: 'gw-a', poolId: 'demo', state, ttlMs: 1_000 });
const started: TaskEvent = { seq: 1, event: 'started', data: { pool_id: 'demo', replica_id: 'v0', engine: 'vllm', queue_wait_ms: 3 } };
const token = (seq: number, i: number): TaskEvent => ({ seq, event: 'token', data: { t: 'x', i } });

describe('statusOf', () => {
  it.each([
    ['queued with no events', at('queued'), [], { state: 'queued', tokens_out: 0, last_event_id: 0 }],
    ['running after its started event', at('running'), [started, token(2, 0), token(3, 1)], { state: 'running', replica_id: 'v0', engine: 'vllm', tokens_out: 2, last_event_id: 3 }],
    ['completed by its end event', at('ended'), [started, token(2, 0), { seq: 3, event: 'end', data: { tokens_out: 1, decode_time_ms: 2, finish_reason: 'length' } }], { state: 'completed', finish_reason: 'length', tokens_out: 1 }],
    ['the stop sequence its end event names', at('ended'), [started, { seq: 2, event: 'end', data: { tokens_out: 3, decode_time_ms: 2, finish_reason: 'stop', stop_sequence: 'END' } }], { state: 'completed', finish_reason: 'stop', stop_sequence: 'END' }],
    ['canceled by an end with finish_reason canceled', at('ended'), [{ seq: 1, event: 'end', data: { tokens_out: 0, decode_time_ms: 0, finish_reason: 'canceled' } }], { state: 'canceled', finish_reason: 'canceled' }],
    ['failed by a WORKER_RESET error', at('ended'), [started, { seq: 2, event: 'error', data: { code: 'WORKER_RESET', message: 'lost', retriable: true } }], { state: 'failed', error: { code: 'WORKER_RESET' } }],
    ['evicted by a drop-lru error', at('ended'), [{ seq: 1, event: 'error', data: { code: 'QUEUE_FULL_DROP_LRU', message: 'evicted', retriable: true } }], { state: 'evicted' }],
    ['expired by its deadline', at('ended'), [{ seq: 1, event: 'error', data: { code: 'DEADLINE_EXCEEDED', message: 'late', retriable: false } }], { state: 'expired' }],
  ] as Array<[string, TaskLocation, TaskEvent[], Record<string, unknown>]>)('reads %s', (_title, location, events, expected) => {
    const status = statusOf(spec, location, events);
    expect(status).toMatchObject({ task_id: 't1', model: 'demo', pool_id: 'demo', priority: 'batch', created_at: '2026-01-01T00:00:00.000Z', ...expected });
  });
});
