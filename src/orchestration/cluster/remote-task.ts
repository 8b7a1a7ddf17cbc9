// A task another replica runs (or ran), served here from its Redis Stream: the SSE writer and
// the dialect renderers follow it like a local log, and its status is rebuilt from its events.
// Resume with Last-Event-ID is the stream follower's cursor: each event reaches a reader once.

import { ok, type Result } from '../../core/errors.ts';
import type { LogListener } from '../../core/state-ports.ts';
import type { TaskEvent } from '../../core/task/events.ts';
import type { TaskState } from '../../core/task/lifecycle.ts';
import type { SharedEventLog } from '../../state/shared-state-ports.ts';
import { toOrchError, unavailable } from '../../state/state-errors.ts';
import type { TaskLocation } from '../../state/redis/task-registry.ts';
import type { RemoteTaskHandle } from '../streamed-task.ts';
import type { TaskStatus } from '../task.ts';
import type { TaskSpec } from './task-spec.ts';

/** Where a RemoteTask's readers are counted (ClusterTaskLookup: the Redis reader count). */
export interface RemoteReaders {
  attached(): void;
  detached(): void;
}

export class RemoteTask implements RemoteTaskHandle {
  readonly id: string;
  readonly tenant: string;
  readonly createdAt: number;
  readonly #spec: TaskSpec;
  readonly #location: TaskLocation;
  readonly #shared: SharedEventLog;
  #lastSeq: number;
  #terminal: TaskEvent | undefined;
  #tokensOut = 0;
  readonly log: RemoteTaskHandle['log'];

  readonly #readers: RemoteReaders | undefined;

  /** `readers`: told when a reader here opens and leaves the stream (the runner's unclaimed-stream timeout and orphan grace count them). */
  constructor(spec: TaskSpec, location: TaskLocation, head: { lastSeq: number; terminal: TaskEvent | undefined }, shared: SharedEventLog, readers?: RemoteReaders) {
    this.#readers = readers;
    this.id = spec.id;
    this.tenant = spec.owner.tenant;
    this.createdAt = spec.createdAt;
    this.#spec = spec;
    this.#location = location;
    this.#shared = shared;
    this.#lastSeq = head.lastSeq;
    this.#terminal = head.terminal;
    const lastSeq = () => this.#lastSeq;
    const terminal = () => this.#terminal;
    this.log = {
      get lastSeq() {
        return lastSeq();
      },
      get terminal() {
        return terminal();
      },
      follow: (afterSeq: number, listener: LogListener, onGone?: () => void) => this.#follow(afterSeq, listener, onGone),
    };
  }

  get finished(): boolean {
    return this.#terminal !== undefined;
  }

  get usage(): { promptTokens: number; outputTokens: number } {
    return { promptTokens: this.#spec.promptTokens, outputTokens: this.#tokensOut };
  }

  // Readers here count for the runner's orphan grace and unclaimed-stream timeout (in Redis).
  streamAttached(): void {
    this.#readers?.attached();
  }
  streamDetached(): void {
    this.#readers?.detached();
  }

  #follow(afterSeq: number, listener: LogListener, onGone?: () => void): () => void {
    // A follower that fails (Redis gone) stops; the client resumes with its last id.
    return this.#shared.follow(afterSeq, (frame, event) => {
      this.#note(event);
      listener(frame, event);
    }, onGone === undefined ? undefined : () => onGone());
  }

  #note(event: TaskEvent): void {
    if (event.seq > this.#lastSeq) this.#lastSeq = event.seq;
    if (event.event === 'token' || event.event === 'tool_call') this.#tokensOut = Math.max(this.#tokensOut, event.data.i + 1);
    if (event.event === 'end' || event.event === 'error') this.#terminal = event;
  }

  /** GET /v1/tasks/{id} for a task held elsewhere: rebuilt from its events and its spec. */
  async status(): Promise<Result<TaskStatus>> {
    let events: readonly TaskEvent[];
    try {
      events = await this.#shared.since(0);
    } catch (error) {
      return { ok: false, error: toOrchError(unavailable('task status', error)) };
    }
    for (const event of events) this.#note(event);
    return ok(statusOf(this.#spec, this.#location, events));
  }
}

/** The status a task's events tell: who ran it, how far it got, how it ended. */
export function statusOf(spec: TaskSpec, location: TaskLocation, events: readonly TaskEvent[]): TaskStatus {
  let started: Extract<TaskEvent, { event: 'started' }>['data'] | undefined;
  let tokensOut = 0;
  let terminal: TaskEvent | undefined;
  for (const event of events) {
    if (event.event === 'started') started = event.data;
    else if (event.event === 'token' || event.event === 'tool_call') tokensOut = event.data.i + 1;
    else if (event.event === 'end' || event.event === 'error') terminal = event;
  }
  const state = stateOf(location, started !== undefined, terminal);
  const r = spec.submission;
  return {
    task_id: spec.id,
    state,
    model: r.model,
    pool_id: started?.pool_id ?? spec.poolId,
    priority: r.priority ?? 'interactive',
    ...(r.session_id !== undefined ? { session_id: r.session_id } : {}),
    ...(started ? { replica_id: started.replica_id, engine: started.engine } : {}),
    created_at: new Date(spec.createdAt).toISOString(),
    tokens_out: terminal?.event === 'end' ? terminal.data.tokens_out : tokensOut,
    ...(terminal?.event === 'end' ? { finish_reason: terminal.data.finish_reason } : {}),
    ...(terminal?.event === 'end' && terminal.data.stop_sequence !== undefined ? { stop_sequence: terminal.data.stop_sequence } : {}),
    ...(terminal?.event === 'error' ? { error: terminal.data } : {}),
    last_event_id: events.at(-1)?.seq ?? 0,
  };
}

/** Terminal states by their event; an error's code says which ending it was. */
function stateOf(location: TaskLocation, started: boolean, terminal: TaskEvent | undefined): TaskState {
  if (terminal?.event === 'end') return terminal.data.finish_reason === 'canceled' ? 'canceled' : 'completed';
  if (terminal?.event === 'error') {
    switch (terminal.data.code) {
      case 'DEADLINE_EXCEEDED':
        return 'expired';
      case 'QUEUE_FULL_DROP_LRU':
        return 'evicted';
      case 'DRAINING':
      case 'POOL_UNREADY':
        return 'canceled';
      default:
        return 'failed';
    }
  }
  return started || location.state === 'running' ? 'running' : 'queued';
}
