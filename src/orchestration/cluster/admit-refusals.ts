// How a pool's queue settings and the admit script's refusals read in a cluster: the same
// policy and the same client errors as the in-memory admission.

import { orchError, type OrchError } from '../../core/errors.ts';
import { limitRefusal } from '../../core/tenancy/quota.ts';
import type { Pool } from '../../pool/pool.ts';
import type { AdmitResult, AdmitSubject, PoolPolicy } from '../../state/redis/pool-queue.ts';
import type { Task, TaskSubmission } from '../task.ts';

export function policyOf(pool: Pool<Task>): PoolPolicy {
  const q = pool.config.queue;
  return { maxQueued: q.max_queued, policy: q.policy, interactiveWeight: q.interactive_weight, batchWeight: q.batch_weight };
}

/** The admit script's refusals as the client errors the in-memory admission gives. */
export function refusalOf(result: Exclude<AdmitResult, { kind: 'queued' | 'replay' }>, req: TaskSubmission, pool: Pool<Task>, subjects: readonly AdmitSubject[]): OrchError {
  switch (result.kind) {
    case 'queue_full':
      return orchError('ADMISSION_REJECT', `pool ${pool.id} queue is full (${pool.config.queue.max_queued} waiting)`, {
        pool_id: pool.id,
        retry_after_ms: pool.queueBackoffMs(),
        policy_label: pool.config.queue.policy,
      });
    case 'refused': {
      const period = subjects.find((s) => s.subject === result.subject)?.limits.budget?.period;
      return limitRefusal(result.subject, result.limit, result.max, result.resetInMs ?? pool.queueBackoffMs(), period);
    }
    case 'too_large':
      return orchError('INVALID_PARAMS', `max_tokens ${req.max_tokens} can never fit ${result.subject.replace(':', ' ')}'s ${result.limit} of ${result.max}`, { field: 'max_tokens', limit: result.limit });
    case 'session_refused':
      return result.error;
    case 'conflict':
      return orchError('CONFLICT', `task_id ${req.task_id} was already used with a different body`, { field: 'task_id' });
    case 'in_flight':
    case 'duplicate':
      return orchError('CONFLICT', `task_id ${req.task_id} is in use by a task whose first answer is not known yet (still being admitted) or no longer remembered`, { field: 'task_id' });
  }
}
