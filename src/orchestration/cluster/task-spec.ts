// What the replica that admitted a task stores for the replica that claims it (redis state
// backend): the submission with its prompt, its owner, and admission's plan. Written in the
// admission's own round trip, read once by the claimer and by replicas that serve the task's
// status or stream without running it.

import type { TaskFacts } from '../../core/observer.ts';
import type { PlacementJob } from '../../core/placement/decide.ts';
import type { TaskOwner, TaskSubmission } from '../task.ts';

export interface TaskSpec {
  id: string;
  submission: TaskSubmission;
  owner: TaskOwner;
  correlationId: string;
  poolId: string;
  job: PlacementJob;
  promptTokens: number;
  affinity?: { replica_id: string; slot_id?: number };
  promptSha256?: string;
  /** Wall-clock ms of the admission (deadlines count from it). */
  createdAt: number;
  admittedBy: string;
}

/** The lifecycle facts of a task known only by its spec (as Task.facts()). */
export function specFacts(spec: TaskSpec): TaskFacts {
  const r = spec.submission;
  return {
    task_id: spec.id,
    pool_id: spec.poolId,
    priority: r.priority ?? 'interactive',
    ...(r.session_id !== undefined ? { session_id: r.session_id } : {}),
    correlation_id: spec.correlationId,
    max_tokens: r.max_tokens,
    ...(spec.promptSha256 !== undefined ? { prompt_sha256: spec.promptSha256 } : {}),
    tenant: spec.owner.tenant,
    key_id: spec.owner.keyId,
  };
}

export function parseSpec(json: string | null | undefined): TaskSpec | undefined {
  if (json == null) return undefined;
  // Written by this code base only (under the deployment's key prefix).
  return JSON.parse(json) as TaskSpec;
}
