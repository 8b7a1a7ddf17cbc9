// A task as the gateway holds it: the validated request, its pool, and its lifecycle, moved only
// through verbs (commit, place, token, requeue, moveTo, end) that apply core's `transition`. Fields are
// private: the service, the dispatcher and the SSE writer call verbs and read getters only.

import type { TaskFacts } from '../core/observer.ts';
import { errorEventData, type ErrorData, type OrchError } from '../core/errors.ts';
import type { Timer } from '../core/ports.ts';
import type { EventLog } from '../core/state-ports.ts';
import type { FinishReason, Priority } from '../core/task/events.ts';
import { taskFigures, type TaskFigures } from '../core/task/figures.ts';
import { transition, type LifecycleEvent, type TaskState, type TerminalState } from '../core/task/lifecycle.ts';
import type { ValidConversation } from '../core/chat/conversation.ts';
import type { components } from '../generated/api-types.ts';
import type { Pool } from '../pool/pool.ts';
import type { Replica } from '../pool/replica.ts';

/** A request that passed schema validation: the wire shape of POST /v1/tasks. */
export type TaskRequest = components['schemas']['TaskRequest'];
/**
 * What a front door submits: the task request, plus the normalized conversation when it came
 * through a chat dialect (its `prompt` is then the conversation's flat text, for accounting).
 */
export type TaskSubmission = TaskRequest & { chat?: ValidConversation };
export type TaskAccepted = components['schemas']['TaskAccepted'];
export type TaskStatus = components['schemas']['TaskStatus'];

/** How a task ends. */
export type Ending =
  | { state: 'completed'; finishReason: Exclude<FinishReason, 'canceled'>; promptTokens?: number; cachedTokens?: number; slotId?: number }
  | { state: 'canceled'; reason: string }
  | { state: Exclude<TerminalState, 'completed'>; error: OrchError; reason?: string };

/** What ending a task produced, for the service to settle sessions and tell observers. */
export interface Ended {
  state: TerminalState;
  /** The task was waiting in the queue (never running) when it ended. */
  wasQueued: boolean;
  figures: TaskFigures;
}

/** Abort reasons handed to the engine call when a task ends before its stream does. */
const ABORT_REASONS: Readonly<Record<Exclude<TerminalState, 'completed'>, Error>> = {
  canceled: new Error('task canceled'),
  failed: new Error('task failed'),
  expired: new Error('task expired'),
  evicted: new Error('task evicted'),
};

export interface TaskInit {
  id: string;
  request: TaskSubmission;
  pool: Pool<Task>;
  correlationId: string;
  log: EventLog;
  now: number;
  mono: number;
  promptTokens: number;
  affinity?: { replica_id: string; slot_id?: number };
  promptSha256?: string;
}

export class Task {
  readonly id: string;
  readonly priority: Priority;
  readonly request: TaskSubmission;
  readonly correlationId: string;
  readonly log: EventLog;
  readonly createdAt: number;
  readonly createdMono: number;
  readonly promptTokens: number;
  /** sha256 of the prompt, kept only when `audit.hash_prompts` is on (never the prompt itself). */
  readonly promptSha256: string | undefined;

  #state: TaskState = 'queued';
  #pool: Pool<Task>;
  /** Session affinity learned from earlier turns (on the admitting pool only). */
  #affinity: { replica_id: string; slot_id?: number } | undefined;
  /** Pools this task was in, in order: the admitting one, then each fallback hop. */
  readonly #pools: string[];
  #attempts = 0;
  #committed = false;
  #answer: TaskAccepted | undefined;
  #startedAt: number | undefined;
  #startedMono: number | undefined;
  #firstTokenAt: number | undefined;
  #firstTokenMono: number | undefined;
  #finishedAt: number | undefined;
  #tokensOut = 0;
  #finishReason: FinishReason | undefined;
  #error: ErrorData | undefined;
  #cancelReason: string | undefined;
  #replica: Replica | undefined;
  #abort: AbortController | undefined;
  readonly #tried: string[] = [];
  #streamOpened = false;
  #readers = 0;
  readonly #timers: Timer[] = [];
  #figures: TaskFigures | undefined;
  readonly #usage: { promptTokens: number; cachedTokens?: number };

  constructor(init: TaskInit) {
    this.id = init.id;
    this.request = init.request;
    this.priority = init.request.priority ?? 'interactive';
    this.#pool = init.pool;
    this.#pools = [init.pool.id];
    this.correlationId = init.correlationId;
    this.log = init.log;
    this.createdAt = init.now;
    this.createdMono = init.mono;
    this.promptTokens = init.promptTokens;
    this.#affinity = init.affinity;
    this.promptSha256 = init.promptSha256;
    this.#usage = { promptTokens: init.promptTokens };
  }

  get state(): TaskState {
    return this.#state;
  }
  /** The pool serving the task: the admitting one until a fallback hop moves it. */
  get pool(): Pool<Task> {
    return this.#pool;
  }
  get affinity(): { replica_id: string; slot_id?: number } | undefined {
    return this.#affinity;
  }
  /** Pool ids in the order the task was in them (admission, then fallback hops). */
  get pools(): readonly string[] {
    return this.#pools;
  }
  /** Placements so far, across pools (1 on the first engine call). */
  get attempt(): number {
    return this.#attempts;
  }
  /** The admission row is committed: the task is visible and may be dispatched. */
  get committed(): boolean {
    return this.#committed;
  }
  get finished(): boolean {
    return this.log.terminal !== undefined;
  }
  get answer(): TaskAccepted | undefined {
    return this.#answer;
  }
  get tokensOut(): number {
    return this.#tokensOut;
  }
  get replica(): Replica | undefined {
    return this.#replica;
  }
  /** Replicas this task already failed on before its first token. */
  get tried(): readonly string[] {
    return this.#tried;
  }
  get streamOpened(): boolean {
    return this.#streamOpened;
  }
  /** SSE readers attached right now. */
  get readers(): number {
    return this.#readers;
  }
  get startedMono(): number | undefined {
    return this.#startedMono;
  }
  get firstTokenMono(): number | undefined {
    return this.#firstTokenMono;
  }
  /** Input tokens (as the engine reported them at the end, else estimated) and output tokens. */
  get usage(): { promptTokens: number; cachedTokens?: number; outputTokens: number } {
    return { ...this.#usage, outputTokens: this.#tokensOut };
  }
  /** The end-of-task figures, once the task has ended. */
  get figures(): TaskFigures | undefined {
    return this.#figures;
  }

  /** The commit point passed: the task becomes visible with the answer its client got. */
  commit(answer: TaskAccepted): void {
    this.#committed = true;
    this.#answer = answer;
  }

  /** A timer the task owns (deadline, unclaimed stream): cancelled when it ends. */
  own(timer: Timer): void {
    if (this.finished) timer.cancel();
    else this.#timers.push(timer);
  }

  /** queued → running on `replica`; returns the engine call's abort signal and the queue wait. */
  place(replica: Replica, at: { now: number; mono: number }): { signal: AbortSignal; queueWaitMs: number } {
    this.#apply({ type: 'place' });
    this.#attempts++;
    this.#replica = replica;
    this.#startedAt ??= at.now;
    this.#startedMono ??= at.mono;
    this.#abort = new AbortController();
    return { signal: this.#abort.signal, queueWaitMs: Math.max(0, at.mono - this.createdMono) };
  }

  /** One token from the engine; true for the first. Dropped (false) once the task has ended. */
  token(text: string, at: { now: number; mono: number }): boolean {
    if (this.finished) return false;
    const first = this.#tokensOut === 0;
    if (first) {
      this.#firstTokenAt = at.now;
      this.#firstTokenMono = at.mono;
    }
    this.log.append('token', { t: text, i: this.#tokensOut });
    this.#tokensOut++;
    return first;
  }

  /** One fragment of a tool call (one output token); true for the first output token. */
  toolCall(delta: { index: number; id?: string; name?: string; arguments: string }, at: { now: number; mono: number }): boolean {
    if (this.finished) return false;
    const first = this.#tokensOut === 0;
    if (first) {
      this.#firstTokenAt = at.now;
      this.#firstTokenMono = at.mono;
    }
    this.log.append('tool_call', {
      index: delta.index,
      ...(delta.id !== undefined ? { id: delta.id } : {}),
      ...(delta.name !== undefined ? { name: delta.name } : {}),
      arguments: delta.arguments,
      i: this.#tokensOut,
    });
    this.#tokensOut++;
    return first;
  }

  /** running → queued after a failure before the first token: never again on `replica`. */
  requeue(): void {
    this.#apply({ type: 'requeue' });
    if (this.#replica) this.#tried.push(this.#replica.id);
    this.#replica = undefined;
    this.#abort = undefined;
  }

  /**
   * running → queued in another pool after a retriable failure before the first token (a
   * fallback hop, issue 13 item 6): replicas tried and affinity belong to the pool it leaves.
   */
  moveTo(pool: Pool<Task>): void {
    this.#apply({ type: 'requeue' });
    this.#pool = pool;
    this.#pools.push(pool.id);
    this.#tried.length = 0;
    this.#affinity = undefined;
    this.#replica = undefined;
    this.#abort = undefined;
  }

  /** Aborts the running engine call without ending the task (a watchdog before the first token). */
  abortCall(reason: unknown): void {
    this.#abort?.abort(reason);
  }

  streamAttached(): void {
    this.#streamOpened = true;
    this.#readers++;
  }

  streamDetached(): void {
    if (this.#readers > 0) this.#readers--;
  }

  /**
   * Ends the task exactly once: the one terminal transition, its timers cancelled, the `metrics`
   * event (when tokens flowed) and the terminal event appended, the engine call aborted (not
   * after a completed stream: nothing is left to abort). Undefined when it had already ended.
   */
  end(ending: Ending, at: { now: number; mono: number }): Ended | undefined {
    if (this.finished) return undefined;
    const from = this.#state;
    this.#apply({ type: 'end', state: ending.state });
    for (const timer of this.#timers) timer.cancel();
    this.#timers.length = 0;
    this.#finishedAt = at.now;
    const figures = taskFigures({
      createdMono: this.createdMono,
      ...(this.#startedMono !== undefined ? { startedMono: this.#startedMono } : {}),
      ...(this.#firstTokenMono !== undefined ? { firstTokenMono: this.#firstTokenMono } : {}),
      finishedMono: at.mono,
      tokensOut: this.#tokensOut,
    });
    this.#figures = figures;
    if (ending.state === 'completed' || (ending.state === 'canceled' && !('error' in ending))) {
      this.#finishReason = ending.state === 'completed' ? ending.finishReason : 'canceled';
      if (ending.state === 'canceled') this.#cancelReason = ending.reason;
      if (this.#tokensOut > 0) {
        this.log.append('metrics', {
          tokens_out: this.#tokensOut,
          ttft_ms: Math.round(figures.ttftMs),
          tokens_per_s: Math.round(figures.tokensPerS * 10) / 10,
        });
      }
      if (ending.state === 'completed') {
        if (ending.promptTokens !== undefined) this.#usage.promptTokens = ending.promptTokens;
        if (ending.cachedTokens !== undefined) this.#usage.cachedTokens = ending.cachedTokens;
      }
      this.log.append('end', { tokens_out: this.#tokensOut, decode_time_ms: Math.round(figures.decodeMs), finish_reason: this.#finishReason });
    } else {
      this.#cancelReason = ending.reason;
      this.#error = errorEventData(ending.error);
      this.log.append('error', this.#error);
    }
    // One shared reason per state: building an Error per task showed up in profiles.
    if (ending.state !== 'completed') this.#abort?.abort(ABORT_REASONS[ending.state]);
    return { state: ending.state, wasQueued: from === 'queued', figures };
  }

  /** The facts every lifecycle observer gets about a task. */
  facts(): TaskFacts {
    return {
      task_id: this.id,
      pool_id: this.pool.id,
      priority: this.priority,
      ...(this.request.session_id !== undefined ? { session_id: this.request.session_id } : {}),
      correlation_id: this.correlationId,
      max_tokens: this.request.max_tokens,
      ...(this.promptSha256 !== undefined ? { prompt_sha256: this.promptSha256 } : {}),
    };
  }

  /** What ended the task, for the terminal lifecycle fact. */
  endingFacts(): { finish_reason?: FinishReason; error_code?: ErrorData['code']; cancel_reason?: string; replica_id?: string; engine?: string } {
    return {
      ...(this.#finishReason ? { finish_reason: this.#finishReason } : {}),
      ...(this.#error ? { error_code: this.#error.code } : {}),
      ...(this.#cancelReason ? { cancel_reason: this.#cancelReason } : {}),
      ...(this.#replica ? { replica_id: this.#replica.id, engine: this.pool.config.engine } : {}),
    };
  }

  /** The GET /v1/tasks/{id} body. */
  status(queuePosition: number | undefined): TaskStatus {
    return {
      task_id: this.id,
      state: this.#state,
      model: this.request.model,
      pool_id: this.pool.id,
      priority: this.priority,
      ...(this.request.session_id !== undefined ? { session_id: this.request.session_id } : {}),
      ...(this.#replica ? { replica_id: this.#replica.id, engine: this.pool.config.engine } : {}),
      ...(this.#state === 'queued' && queuePosition !== undefined ? { queue_position: queuePosition } : {}),
      created_at: iso(this.createdAt),
      ...(this.#startedAt !== undefined ? { started_at: iso(this.#startedAt) } : {}),
      ...(this.#firstTokenAt !== undefined ? { first_token_at: iso(this.#firstTokenAt) } : {}),
      ...(this.#finishedAt !== undefined ? { finished_at: iso(this.#finishedAt) } : {}),
      tokens_out: this.#tokensOut,
      ...(this.#finishReason ? { finish_reason: this.#finishReason } : {}),
      ...(this.#error ? { error: this.#error } : {}),
      last_event_id: this.log.lastSeq,
    };
  }

  #apply(event: LifecycleEvent): void {
    const next = transition(this.#state, event);
    // Callers only ask for legal moves; an illegal one is a bug in the shell, never an outcome.
    if (!next.ok) throw new Error(`task ${this.id}: illegal ${next.illegal.event} from ${next.illegal.from}`);
    this.#state = next.state;
  }
}

const iso = (ms: number): string => new Date(ms).toISOString();
