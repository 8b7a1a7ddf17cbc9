// The task state machine (ARCHITECTURE §2): the states, the events that move a task between
// them and the one pure `transition`. The shell's Task applies it and never assigns a state by
// hand, so an illegal move (a second ending, leaving a terminal state) is a typed value here.

export const TASK_STATES = ['queued', 'running', 'completed', 'canceled', 'failed', 'expired', 'evicted', 'abandoned'] as const;
export type TaskState = (typeof TASK_STATES)[number];
/**
 * How a live task ends. `abandoned` is a state no transition reaches: only the audit records it,
 * for a task a crash left open (reconciled at the next start), and nothing leaves it either.
 */
export const TERMINAL_STATES = ['completed', 'canceled', 'failed', 'expired', 'evicted'] as const;
export type TerminalState = (typeof TERMINAL_STATES)[number];

/**
 * What can happen to a task: `place` leases a replica, `requeue` hands a task that failed
 * before its first token back for re-placement, `end` is its one ending.
 */
export type LifecycleEvent = { type: 'place' } | { type: 'requeue' } | { type: 'end'; state: TerminalState };

export interface IllegalTransition {
  from: TaskState;
  event: LifecycleEvent['type'];
  to?: TerminalState;
}

export type Transition = { ok: true; state: TaskState } | { ok: false; illegal: IllegalTransition };

/** A state nothing leaves: the five endings and `abandoned`. */
export const isFinalState = (state: TaskState): boolean => state !== 'queued' && state !== 'running';

/**
 * queued → running (place) → queued (requeue, before the first token) … → one terminal state.
 * Only a running task completes; only a queued one is evicted (drop-lru takes waiting work);
 * cancel, failure and expiry end either. Nothing leaves a terminal state.
 */
export function transition(from: TaskState, event: LifecycleEvent): Transition {
  const illegal = (): Transition => ({
    ok: false,
    illegal: { from, event: event.type, ...(event.type === 'end' ? { to: event.state } : {}) },
  });
  if (isFinalState(from)) return illegal();
  switch (event.type) {
    case 'place':
      return from === 'queued' ? { ok: true, state: 'running' } : illegal();
    case 'requeue':
      return from === 'running' ? { ok: true, state: 'queued' } : illegal();
    case 'end':
      if (event.state === 'completed' && from !== 'running') return illegal();
      if (event.state === 'evicted' && from !== 'queued') return illegal();
      return { ok: true, state: event.state };
    default:
      return unreachable(event);
  }
}

function unreachable(event: never): never {
  throw new Error(`unknown lifecycle event ${JSON.stringify(event)}`);
}
