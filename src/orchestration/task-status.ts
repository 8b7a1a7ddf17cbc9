// What a task shows outside itself: the GET /v1/tasks/{id} body and the facts its lifecycle
// observers get. Pure renderings of the task's getters plus the times and outcome it keeps private.

import type { PoolConfig } from '../config/schema.ts';
import type { TaskFacts } from '../core/observer.ts';
import type { ErrorData } from '../core/errors.ts';
import type { FinishReason, Priority } from '../core/task/events.ts';
import type { TaskState } from '../core/task/lifecycle.ts';
import type { TaskCost } from '../core/pricing/cost.ts';
import type { TaskSpec, TaskStatus } from './task-types.ts';

/** What the renderings read of a task through its getters (the Task class has this shape). */
export interface TaskView {
  readonly id: string;
  readonly state: TaskState;
  readonly request: TaskSpec;
  readonly priority: Priority;
  readonly correlationId: string;
  readonly promptSha256: string | undefined;
  readonly tenant: string;
  readonly keyId: string;
  readonly createdAt: number;
  readonly tokensOut: number;
  readonly pool: { readonly id: string; readonly config: PoolConfig };
  readonly replica: { readonly id: string } | undefined;
  readonly log: { readonly lastSeq: number };
  readonly cost: TaskCost | undefined;
}

/** What a task keeps private and shows only through these renderings: its times and how it ended. */
export interface TaskOutcome {
  startedAt: number | undefined;
  firstTokenAt: number | undefined;
  finishedAt: number | undefined;
  finishReason: FinishReason | undefined;
  stopSequence: string | undefined;
  error: ErrorData | undefined;
  cancelReason: string | undefined;
}

/** What ended a task, for the terminal lifecycle fact. */
export interface EndingFacts {
  finish_reason?: FinishReason;
  error_code?: ErrorData['code'];
  cancel_reason?: string;
  replica_id?: string;
  engine?: string;
  model?: string;
  cost_usd?: number;
  cost_source?: TaskCost['source'];
  stop_sequence?: string;
}

/** The facts every lifecycle observer gets about a task. */
export function taskFacts(task: TaskView): TaskFacts {
  return {
    task_id: task.id,
    pool_id: task.pool.id,
    priority: task.priority,
    ...(task.request.session_id !== undefined ? { session_id: task.request.session_id } : {}),
    correlation_id: task.correlationId,
    max_tokens: task.request.max_tokens,
    ...(task.promptSha256 !== undefined ? { prompt_sha256: task.promptSha256 } : {}),
    tenant: task.tenant,
    key_id: task.keyId,
  };
}

/** What ended the task, for the terminal lifecycle fact. */
export function endingFacts(task: TaskView, outcome: TaskOutcome): EndingFacts {
  const { cost, replica } = task;
  return {
    ...(cost ? { model: task.pool.config.model, cost_source: cost.source, ...('usd' in cost ? { cost_usd: cost.usd } : {}) } : {}),
    ...(outcome.finishReason ? { finish_reason: outcome.finishReason } : {}),
    ...(outcome.stopSequence !== undefined ? { stop_sequence: outcome.stopSequence } : {}),
    ...(outcome.error ? { error_code: outcome.error.code } : {}),
    ...(outcome.cancelReason ? { cancel_reason: outcome.cancelReason } : {}),
    ...(replica ? { replica_id: replica.id, engine: task.pool.config.engine } : {}),
  };
}

/** The GET /v1/tasks/{id} body. */
export function taskStatus(task: TaskView, outcome: TaskOutcome, queuePosition: number | undefined): TaskStatus {
  const { cost, replica, state } = task;
  return {
    task_id: task.id,
    state,
    model: task.request.model,
    pool_id: task.pool.id,
    priority: task.priority,
    ...(task.request.session_id !== undefined ? { session_id: task.request.session_id } : {}),
    ...(replica ? { replica_id: replica.id, engine: task.pool.config.engine } : {}),
    ...(state === 'queued' && queuePosition !== undefined ? { queue_position: queuePosition } : {}),
    created_at: iso(task.createdAt),
    ...(outcome.startedAt !== undefined ? { started_at: iso(outcome.startedAt) } : {}),
    ...(outcome.firstTokenAt !== undefined ? { first_token_at: iso(outcome.firstTokenAt) } : {}),
    ...(outcome.finishedAt !== undefined ? { finished_at: iso(outcome.finishedAt) } : {}),
    tokens_out: task.tokensOut,
    ...(outcome.finishReason ? { finish_reason: outcome.finishReason } : {}),
    ...(outcome.stopSequence !== undefined ? { stop_sequence: outcome.stopSequence } : {}),
    ...(outcome.error ? { error: outcome.error } : {}),
    last_event_id: task.log.lastSeq,
    ...(cost && 'usd' in cost ? { cost_usd: cost.usd, cost_source: cost.source } : {}),
    ...(cost && 'warning' in cost ? { warnings: [cost.warning] } : {}),
  };
}

const iso = (ms: number): string => new Date(ms).toISOString();
