// Provider states for consumer-driven contract verification: each sets the gateway up so one
// pact interaction can be replayed against the real server ("a task exists", "the queue is
// full", ...), and tears it down again. Only the pact provider test registers them (routes.ts).
// They act through the same services the API uses, except "the pool is unready", which marks
// replicas unready until the next probe because the mock engine has no way to be unhealthy.

import type { SessionStore } from '../../../src/core/state-ports.ts';
import type { Task, TaskRequest } from '../../../src/orchestration/task.ts';
import type { TaskService } from '../../../src/orchestration/task-service.ts';
import type { PoolManager } from '../../../src/pool/pool-manager.ts';

export interface StateDeps {
  tasks: TaskService;
  pools: PoolManager<Task>;
  sessions: SessionStore;
}

export type StateParams = Record<string, unknown>;
export type StateResult = { ok: true; values: Record<string, unknown> } | { ok: false; field: string; message: string };

export interface ProviderState {
  setup(params: StateParams): Promise<StateResult>;
  teardown(params: StateParams): Promise<StateResult>;
}

const done = (values: Record<string, unknown> = {}): StateResult => ({ ok: true, values });
const bad = (field: string, message: string): StateResult => ({ ok: false, field, message });
const text = (params: StateParams, key: string): string | undefined => (typeof params[key] === 'string' ? (params[key] as string) : undefined);
const int = (params: StateParams, key: string, fallback: number): number =>
  Number.isInteger(params[key]) ? (params[key] as number) : fallback;

function waitForEnd(task: Task): Promise<void> {
  return new Promise((resolve) => {
    if (task.log.terminal) return resolve();
    task.log.follow(task.log.lastSeq, (_frame, event) => {
      if (event.event === 'end' || event.event === 'error') resolve();
    });
  });
}

async function submitTask(deps: StateDeps, params: StateParams, fallbackPrompt: string): Promise<StateResult & { task?: Task }> {
  const model = text(params, 'model');
  const taskId = text(params, 'task_id');
  if (!model) return bad('params.model', 'the state needs the model of a configured pool');
  if (!taskId) return bad('params.task_id', 'the state needs the task_id the interaction uses');
  const request: TaskRequest = { model, prompt: text(params, 'prompt') ?? fallbackPrompt, max_tokens: int(params, 'max_tokens', 1_000), task_id: taskId };
  if (Number.isInteger(params.seed)) request.seed = params.seed as number;
  const submitted = await deps.tasks.submit(request, `provider-state-${taskId}`);
  if (!submitted.ok) return bad('params', `could not create the task: ${submitted.error.code} ${submitted.error.message}`);
  return { ...done({ task_id: taskId }), task: submitted.value.task };
}

function cancelIfKnown(deps: StateDeps, params: StateParams): Promise<StateResult> {
  const taskId = text(params, 'task_id');
  if (taskId) deps.tasks.cancel(taskId);
  return Promise.resolve(done());
}

/** The states, with per-instance memory (the fillers to remove), never module-level. */
export function providerStates(deps: StateDeps): Record<string, ProviderState> {
  const fillers = new Map<string, string[]>();
  return {
    /** A long task, running or queued, under params.task_id on params.model. */
    'a task exists': {
      setup: (params) => submitTask(deps, params, 'a task that is still running'),
      teardown: (params) => cancelIfKnown(deps, params),
    },
    /** A task that has reached its terminal event (params: task_id, model, prompt, seed, max_tokens). */
    'a completed task exists': {
      setup: async (params) => {
        const result = await submitTask(deps, { max_tokens: 3, ...params }, 'hello');
        if (result.task) await waitForEnd(result.task);
        return result.ok ? done(result.values) : result;
      },
      teardown: () => Promise.resolve(done()),
    },
    /** The pool of params.model has every slot busy and every queue place taken. */
    'the queue is full': {
      setup: async (params) => {
        const model = text(params, 'model');
        const pool = model ? deps.pools.resolve(model) : undefined;
        if (!model || !pool) return bad('params.model', 'the state needs the model of a configured pool');
        const ids: string[] = [];
        fillers.set(model, ids);
        for (let i = 0; i < pool.config.queue.max_queued + pool.slotsTotal + 1; i++) {
          const submitted = await deps.tasks.submit({ model, prompt: `filler ${i}`, max_tokens: int(params, 'max_tokens', 1_000) }, 'provider-state-filler');
          if (!submitted.ok) return submitted.error.code === 'ADMISSION_REJECT' ? done() : bad('params.model', submitted.error.message);
          ids.push(submitted.value.task.id);
        }
        return bad('params.model', `pool ${pool.id} did not fill up`);
      },
      teardown: async (params) => {
        const model = text(params, 'model') ?? '';
        for (const id of fillers.get(model) ?? []) deps.tasks.cancel(id);
        fillers.delete(model);
        return done();
      },
    },
    /** Every replica of the pool of params.model is unready until the next health probe. */
    'the pool is unready': {
      setup: async (params) => {
        const model = text(params, 'model');
        const pool = model ? deps.pools.resolve(model) : undefined;
        if (!pool) return bad('params.model', 'the state needs the model of a configured pool');
        for (const replica of pool.replicas) {
          replica.state = 'unready';
          replica.lastError = 'provider state: the pool is unready';
        }
        return done();
      },
      teardown: async () => {
        await deps.pools.probeAll();
        return done();
      },
    },
    /** A session params.session_id with params.max_turns (default 8). */
    'a session exists': {
      setup: async (params) => {
        const sessionId = text(params, 'session_id');
        if (!sessionId) return bad('params.session_id', 'the state needs the session_id the interaction uses');
        deps.sessions.delete(sessionId);
        const created = deps.sessions.create({ session_id: sessionId, max_turns: int(params, 'max_turns', 8) });
        return created.ok ? done({ session_id: sessionId }) : bad('params', created.error.message);
      },
      teardown: async (params) => {
        deps.sessions.delete(text(params, 'session_id') ?? '');
        return done();
      },
    },
  };
}
