// How a task ends: the ending kinds, the per-state abort reasons for the engine call, the
// `metrics` event appended before `end`, and the session turn settled with the task's usage.

import type { OrchError } from '../core/errors.ts';
import type { SessionStore } from '../core/session/session-store.ts';
import type { FinishReason, TerminalState } from '../core/task/events.ts';
import type { Task } from './task.ts';

export type Ending =
  | { state: 'completed'; finishReason: Exclude<FinishReason, 'canceled'>; promptTokens?: number; cachedTokens?: number; slotId?: number }
  | { state: 'canceled'; reason: string }
  | { state: Exclude<TerminalState, 'completed'>; error: OrchError; reason?: string };

/** Abort reasons handed to the engine call when a task ends before its stream does. */
export const ABORT_REASONS: Readonly<Record<Exclude<TerminalState, 'completed'>, Error>> = {
  canceled: new Error('task canceled'),
  failed: new Error('task failed'),
  expired: new Error('task expired'),
  evicted: new Error('task evicted'),
};

export function appendMetrics(task: Task): void {
  const ttft = task.firstTokenMono !== undefined && task.startedMono !== undefined ? task.firstTokenMono - task.startedMono : 0;
  const decodeS = task.firstTokenMono !== undefined ? ((task.finishedMono ?? 0) - task.firstTokenMono) / 1000 : 0;
  task.log.append('metrics', {
    tokens_out: task.tokensOut,
    ttft_ms: Math.round(ttft),
    tokens_per_s: decodeS > 0 ? Math.round((task.tokensOut / decodeS) * 10) / 10 : 0,
  });
}

export function settleSession(sessions: SessionStore, task: Task, ending: Ending, wasQueued: boolean): void {
  const sessionId = task.request.session_id;
  if (sessionId === undefined) return;
  if (wasQueued || !task.replica) {
    sessions.cancelTurn(sessionId);
    return;
  }
  const timeMs = Math.round((task.finishedMono ?? 0) - (task.startedMono ?? task.createdMono));
  const tokens = task.promptTokens + task.tokensOut;
  sessions.endTurn(sessionId, {
    tokens: task.tokensOut,
    time_ms: timeMs,
    cost: (tokens * task.pool.config.cost_per_1k_tokens) / 1000,
    pool_id: task.pool.id,
    replica_id: task.replica.id,
    ...(ending.state === 'completed' && ending.slotId !== undefined ? { slot_id: ending.slotId } : {}),
    ...(ending.state === 'completed' && ending.cachedTokens !== undefined ? { cached_tokens: ending.cachedTokens } : {}),
  });
}
