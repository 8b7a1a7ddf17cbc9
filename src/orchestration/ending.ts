// Settling a task's session turn when it ends: a task that never ran gives its turn back; one
// that ran records its usage (tokens, time, its priced cost) and where it ran (affinity, KV warmth).

import type { SessionStore } from '../core/state-ports.ts';
import type { Ended, Ending, Task } from './task.ts';

/** The two turn-ending calls of a session store: synchronous in memory, a promise on Redis. */
export type TurnSettler = {
  [K in 'endTurn' | 'cancelTurn']: (...args: Parameters<SessionStore[K]>) => void | Promise<void>;
};

/** Settles the task's turn; returns the store's answer (a promise on Redis, for the caller to track). */
export function settleSession(sessions: TurnSettler, task: Task, ending: Ending, ended: Ended): void | Promise<void> {
  const sessionId = task.request.session_id;
  if (sessionId === undefined) return;
  const replica = task.replica;
  if (ended.wasQueued || !replica) return sessions.cancelTurn(sessionId);
  return sessions.endTurn(sessionId, {
    tokens: task.tokensOut,
    time_ms: Math.round(ended.figures.serviceMs),
    // A task that ran has its cost (Task.end): USD when priced, else the pool's fallback rate.
    cost: task.cost?.budget ?? 0,
    pool_id: task.pool.id,
    replica_id: replica.id,
    ...(ending.state === 'completed' && ending.slotId !== undefined ? { slot_id: ending.slotId } : {}),
    ...(ending.state === 'completed' && ending.cachedTokens !== undefined ? { cached_tokens: ending.cachedTokens } : {}),
  });
}
