// A task as the gateway holds it: the validated request, its pool, and its lifecycle, moved only
// through verbs (commit, place, token, requeue, moveTo, end) that apply core's `transition`. Fields are
// private: the service, the dispatcher and the SSE writer call verbs and read getters only.
// The prompt is held only while an engine call may still be built from it (issue 10 finding 1).

import type { TaskFacts } from '../core/observer.ts';
import { errorEventData, type ErrorData } from '../core/errors.ts';
import type { PlacementJob } from '../core/placement/decide.ts';
import type { Clock, Timer } from '../core/ports.ts';
import type { EventLog } from '../core/state-ports.ts';
import type { FinishReason, Priority } from '../core/task/events.ts';
import { taskFigures, type TaskFigures } from '../core/task/figures.ts';
import { transition, type LifecycleEvent, type TaskState } from '../core/task/lifecycle.ts';
import type { ValidConversation } from '../core/chat/conversation.ts';
import type { TaskCost } from '../core/pricing/cost.ts';
import type { Pool } from '../pool/pool.ts';
import type { Replica } from '../pool/replica.ts';
import { ABORT_REASONS, endData, metricsData, ranCost, requestedStop, takeReportedUsage } from './task-ending.ts';
import { endingFacts, taskFacts, taskStatus, type EndingFacts, type TaskOutcome } from './task-status.ts';
import type { Ended, Ending, TaskAccepted, TaskOwner, TaskPrice, TaskSpec, TaskStatus, TaskSubmission, TaskUsage } from './task-types.ts';

export type { Ended, Ending, TaskAccepted, TaskOwner, TaskRequest, TaskSpec, TaskStatus, TaskSubmission } from './task-types.ts';

const NONE: readonly string[] = Object.freeze([]);
const NONE_TIMERS: readonly Timer[] = Object.freeze([]);

/**
 * Heap a task costs beyond its event log and prompt: the task object, the rest of its request,
 * its answer, timers and figures (an estimate; retention counts it per finished task).
 */
const TASK_OVERHEAD_BYTES = 2_048;

export interface TaskInit {
  id: string;
  request: TaskSubmission;
  /** Where admission said the task may run (the same job re-placement asks again). */
  job: PlacementJob;
  pool: Pool<Task>;
  correlationId: string;
  log: EventLog;
  now: number;
  mono: number;
  promptTokens: number;
  affinity?: { replica_id: string; slot_id?: number };
  promptSha256?: string;
  /** Who submitted it (ORCH-1205); absent: the default tenant, anonymous. */
  owner?: TaskOwner;
  /**
   * Starts the orphan grace for a task whose last stream reader just left; undefined when the
   * task is exempt (`detach`, grace off). The task cancels the timer when a reader comes back.
   */
  orphanTimer?: (task: Task) => Timer | undefined;
  /** The price found at admission for the pool's model (core/pricing findPrice); absent = unpriced. */
  price?: TaskPrice;
}

export class Task {
  readonly id: string;
  readonly priority: Priority;
  readonly request: TaskSpec;
  readonly job: PlacementJob;
  readonly correlationId: string;
  readonly log: EventLog;
  readonly createdAt: number;
  readonly createdMono: number;
  readonly promptTokens: number;
  /** sha256 of the prompt, kept only when `audit.hash_prompts` is on (never the prompt itself). */
  readonly promptSha256: string | undefined;
  /** The owning tenant and the submitting key id, set at creation (issue 12). */
  readonly tenant: string;
  readonly keyId: string;

  #prompt: string | undefined;
  #chat: ValidConversation | undefined;
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
  #stopSequence: string | undefined;
  #error: ErrorData | undefined;
  #cancelReason: string | undefined;
  #replica: Replica | undefined;
  #abort: AbortController | undefined;
  /** Created on the first failure (most tasks never fail): issue 14, memory per open stream. */
  #tried: string[] | undefined;
  #streamOpened = false;
  #readers = 0;
  /** Created on the first owned timer. */
  #timers: Timer[] | undefined;
  readonly #orphanTimer: ((task: Task) => Timer | undefined) | undefined;
  #orphan: Timer | undefined;
  #figures: TaskFigures | undefined;
  readonly #usage: TaskUsage;
  readonly #price: TaskPrice | undefined;
  #cost: TaskCost | undefined;

  constructor(init: TaskInit) {
    this.id = init.id;
    const { prompt, chat, ...spec } = init.request;
    this.request = spec;
    this.#prompt = prompt;
    this.#chat = chat;
    this.job = init.job;
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
    this.tenant = init.owner?.tenant ?? 'default';
    this.keyId = init.owner?.keyId ?? 'anonymous';
    this.#orphanTimer = init.orphanTimer;
    this.#usage = { promptTokens: init.promptTokens };
    this.#price = init.price;
  }

  get state(): TaskState {
    return this.#state;
  }
  /** The prompt, until no engine call can be built from it any more (then undefined). */
  get prompt(): string | undefined {
    return this.#prompt;
  }
  /** The chat conversation (dialect requests), held as long as the prompt. */
  get chat(): ValidConversation | undefined {
    return this.#chat;
  }
  /**
   * Estimated heap bytes the task holds: its log, its prompt while held (and the conversation,
   * about as large again, whose flat text the prompt is), a fixed overhead.
   */
  get retainedBytes(): number {
    const held = 2 * (this.#prompt?.length ?? 0);
    return TASK_OVERHEAD_BYTES + this.log.bytes + (this.#chat === undefined ? held : 2 * held);
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
    return this.#tried ?? NONE;
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
  /** What the task cost, once it ended after running on a replica (undefined otherwise). */
  get cost(): TaskCost | undefined {
    return this.#cost;
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
    else (this.#timers ??= []).push(timer);
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

  /**
   * One token from the engine; true for the first. Dropped (false) once the task has ended.
   * The clock is read only for the first output token: nothing per token but the log append.
   */
  token(text: string, clock: Clock): boolean {
    if (this.finished) return false;
    const first = this.#tokensOut === 0;
    if (first) this.#firstOutput(clock);
    this.log.append('token', { t: text, i: this.#tokensOut });
    this.#tokensOut++;
    return first;
  }

  /** One fragment of a tool call (one output token); true for the first output token. */
  toolCall(delta: { index: number; id?: string; name?: string; arguments: string }, clock: Clock): boolean {
    if (this.finished) return false;
    const first = this.#tokensOut === 0;
    if (first) this.#firstOutput(clock);
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

  /**
   * Drops the prompt: called once the running engine call is the last one this task can make
   * (placed for the last time, or past its first token), and when the task ends.
   */
  releasePrompt(): void {
    this.#prompt = undefined;
    this.#chat = undefined;
  }

  /** After the first output token a task is never re-placed, so its prompt is needed no more. */
  #firstOutput(clock: Clock): void {
    this.#firstTokenAt = clock.now();
    this.#firstTokenMono = clock.monotonic();
    this.releasePrompt();
  }

  /** running → queued after a failure before the first token: never again on `replica`. */
  requeue(): void {
    this.#apply({ type: 'requeue' });
    if (this.#replica) (this.#tried ??= []).push(this.#replica.id);
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
    this.#tried = undefined;
    this.#affinity = undefined;
    this.#replica = undefined;
    this.#abort = undefined;
  }

  /** Aborts the running engine call without ending the task (a watchdog before the first token). */
  abortCall(reason: unknown): void {
    this.#abort?.abort(reason);
  }

  /** A reader opened the task's stream: an orphan grace running for it stops (ORCH-0206). */
  streamAttached(): void {
    this.#streamOpened = true;
    this.#readers++;
    this.#orphan?.cancel();
    this.#orphan = undefined;
  }

  /** A reader left; the last one leaving an unfinished task starts its orphan grace. */
  streamDetached(): void {
    if (this.#readers > 0) this.#readers--;
    if (this.#readers === 0 && !this.finished && this.#orphan === undefined) this.#orphan = this.#orphanTimer?.(this);
  }

  /**
   * A reader on another gateway replica left (redis backend): with none here, the orphan grace
   * starts; its timer then judges the readers left anywhere (cluster-orphan-grace.ts).
   */
  readerLeftElsewhere(): void {
    if (this.#readers === 0 && !this.finished && this.#orphan === undefined) this.#orphan = this.#orphanTimer?.(this);
  }

  /** The orphan grace ran out (its timer now judges the readers elsewhere): a later leave starts a new one. */
  orphanGraceOver(): void {
    this.#orphan = undefined;
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
    for (const timer of this.#timers ?? NONE_TIMERS) timer.cancel();
    this.#timers = undefined;
    this.#orphan?.cancel();
    this.#orphan = undefined;
    this.#finishedAt = at.now;
    this.#prompt = undefined;
    this.#chat = undefined;
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
      if (this.#tokensOut > 0) this.log.append('metrics', metricsData(this.#tokensOut, figures));
      if (ending.state === 'completed') {
        takeReportedUsage(this.#usage, ending);
        this.#stopSequence = requestedStop(ending, this.request.stop);
      }
      this.log.append('end', endData(this.#tokensOut, figures, this.#finishReason, this.#stopSequence));
    } else {
      this.#cancelReason = ending.reason;
      this.#error = errorEventData(ending.error);
      this.log.append('error', this.#error);
    }
    if (this.#replica) this.#cost = ranCost(this.#usage, this.#tokensOut, { price: this.#price, pool: this.pool.config });
    // One shared reason per state: building an Error per task showed up in profiles.
    if (ending.state !== 'completed') this.#abort?.abort(ABORT_REASONS[ending.state]);
    return { state: ending.state, wasQueued: from === 'queued', figures };
  }

  /** The facts every lifecycle observer gets about a task. */
  facts(): TaskFacts {
    return taskFacts(this);
  }

  /** What ended the task, for the terminal lifecycle fact. */
  endingFacts(): EndingFacts {
    return endingFacts(this, this.#outcome());
  }

  /** The GET /v1/tasks/{id} body. */
  status(queuePosition: number | undefined): TaskStatus {
    return taskStatus(this, this.#outcome(), queuePosition);
  }

  #outcome(): TaskOutcome {
    return {
      startedAt: this.#startedAt,
      firstTokenAt: this.#firstTokenAt,
      finishedAt: this.#finishedAt,
      finishReason: this.#finishReason,
      stopSequence: this.#stopSequence,
      error: this.#error,
      cancelReason: this.#cancelReason,
    };
  }

  #apply(event: LifecycleEvent): void {
    const next = transition(this.#state, event);
    // Callers only ask for legal moves; an illegal one is a bug in the shell, never an outcome.
    if (!next.ok) throw new Error(`task ${this.id}: illegal ${next.illegal.event} from ${next.illegal.from}`);
    this.#state = next.state;
  }
}
