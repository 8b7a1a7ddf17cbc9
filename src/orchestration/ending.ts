// Settling a task's session turn when it ends: a task that never ran gives its turn back; one
// that ran records its usage (tokens, time, cost) and where it ran (affinity, KV warmth).

import type { SessionStore } from '../core/state-ports.ts';
import type { Ended, Ending, Task } from './task.ts';

export function settleSession(sessions: SessionStore, task: Task, ending: Ending, ended: Ended): void {
  const sessionId = task.request.session_id;
  if (sessionId === undefined) return;
  const replica = task.replica;
  if (ended.wasQueued || !replica) {
    sessions.cancelTurn(sessionId);
    return;
  }
  const tokens = task.promptTokens + task.tokensOut;
  sessions.endTurn(sessionId, {
    tokens: task.tokensOut,
    time_ms: Math.round(ended.figures.serviceMs),
    cost: (tokens * task.pool.config.cost_per_1k_tokens) / 1000,
    pool_id: task.pool.id,
    replica_id: replica.id,
    ...(ending.state === 'completed' && ending.slotId !== undefined ? { slot_id: ending.slotId } : {}),
    ...(ending.state === 'completed' && ending.cachedTokens !== undefined ? { cached_tokens: ending.cachedTokens } : {}),
  });
}
