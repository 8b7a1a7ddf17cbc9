// A task as the gateway holds it: the validated request, its pool, its lifecycle timestamps and
// its event log. Mutated only by the task service, the dispatcher and the runner; read by the
// HTTP layer through `taskStatus`.

import type { TaskFacts } from '../core/observer.ts';
import { TaskEventLog } from '../core/task/event-log.ts';
import type { ErrorData, FinishReason, Priority, TaskState } from '../core/task/events.ts';
import type { Pool } from '../pool/pool.ts';
import type { Replica } from '../pool/replica.ts';

export interface PlacementRequest {
  pin?: string;
  prefer?: string[];
  avoid?: string[];
  allow_fallback?: boolean;
  accelerator?: 'nvidia' | 'cpu';
}

/** A request that passed schema validation (the wire shape of POST /v1/tasks). */
export interface TaskRequest {
  model: string;
  prompt: string;
  max_tokens: number;
  task_id?: string;
  session_id?: string;
  priority?: Priority;
  deadline_ms?: number;
  seed?: number;
  temperature?: number;
  top_p?: number;
  stop?: string[];
  engine?: string;
  placement?: PlacementRequest;
}

export interface TaskAccepted {
  task_id: string;
  queue_position: number;
  predicted_start_ms: number;
  backoff_ms: number;
  streams: { sse: string; status: string };
}

export class Task {
  readonly id: string;
  readonly priority: Priority;
  readonly request: TaskRequest;
  readonly pool: Pool;
  readonly correlationId: string;
  readonly log = new TaskEventLog();
  readonly createdAt: number;
  readonly createdMono: number;
  readonly promptTokens: number;
  state: TaskState = 'queued';
  /** The admission row is committed: the task is visible and may be dispatched. */
  committed = false;
  startedAt: number | undefined;
  startedMono: number | undefined;
  firstTokenAt: number | undefined;
  firstTokenMono: number | undefined;
  finishedAt: number | undefined;
  finishedMono: number | undefined;
  tokensOut = 0;
  finishReason: FinishReason | undefined;
  error: ErrorData | undefined;
  replica: Replica | undefined;
  /** Replicas this task already failed on before its first token. */
  readonly tried: string[] = [];
  abort: AbortController | undefined;
  cancelReason: string | undefined;
  streamOpened = false;
  /** Timers owned by the task (deadline, unclaimed stream); cleared when it finishes. */
  readonly timers: NodeJS.Timeout[] = [];
  /** Removal after retention, once finished; cleared if the task is forgotten earlier. */
  removal: NodeJS.Timeout | undefined;
  answer: TaskAccepted | undefined;
  /** sha256 of the prompt, kept only when `audit.hash_prompts` is on (never the prompt itself). */
  promptSha256: string | undefined;
  /** Session affinity learned from earlier turns. */
  affinity: { replica_id: string; slot_id?: number } | undefined;

  constructor(opts: { id: string; request: TaskRequest; pool: Pool; correlationId: string; now: number; mono: number }) {
    this.id = opts.id;
    this.request = opts.request;
    this.priority = opts.request.priority ?? 'interactive';
    this.pool = opts.pool;
    this.correlationId = opts.correlationId;
    this.createdAt = opts.now;
    this.createdMono = opts.mono;
    this.promptTokens = Math.ceil(opts.request.prompt.length / 4);
  }

  get finished(): boolean {
    return this.log.terminal !== undefined;
  }
}

/** The facts every lifecycle observer gets about a task. */
export function taskFacts(task: Task): TaskFacts {
  return {
    task_id: task.id,
    pool_id: task.pool.id,
    priority: task.priority,
    ...(task.request.session_id !== undefined ? { session_id: task.request.session_id } : {}),
    correlation_id: task.correlationId,
    max_tokens: task.request.max_tokens,
    ...(task.promptSha256 !== undefined ? { prompt_sha256: task.promptSha256 } : {}),
  };
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** The GET /v1/tasks/{id} body. */
export function taskStatus(task: Task, queuePosition: number | undefined) {
  return {
    task_id: task.id,
    state: task.state,
    model: task.request.model,
    pool_id: task.pool.id,
    priority: task.priority,
    ...(task.request.session_id !== undefined ? { session_id: task.request.session_id } : {}),
    ...(task.replica ? { replica_id: task.replica.id, engine: task.pool.config.engine } : {}),
    ...(task.state === 'queued' && queuePosition !== undefined ? { queue_position: queuePosition } : {}),
    created_at: iso(task.createdAt) as string,
    ...(task.startedAt !== undefined ? { started_at: iso(task.startedAt) } : {}),
    ...(task.firstTokenAt !== undefined ? { first_token_at: iso(task.firstTokenAt) } : {}),
    ...(task.finishedAt !== undefined ? { finished_at: iso(task.finishedAt) } : {}),
    tokens_out: task.tokensOut,
    ...(task.finishReason ? { finish_reason: task.finishReason } : {}),
    ...(task.error ? { error: task.error } : {}),
    last_event_id: task.log.lastSeq,
  };
}
