// The asynchronous ports a networked state backend implements (issue 15). Core's ports
// (src/core/state-ports.ts) are synchronous because one process admits in one synchronous
// step; across replicas every step is a round trip, so these return promises and each one is a
// single atomic server-side step. Rejections are StateError (src/state/state-errors.ts).

import type { LogListener } from '../core/state-ports.ts';
import type { EventDataOf, TaskEvent, TaskEventName } from '../core/task/events.ts';

/** Where a task's log stands: its last seq (0 before the first event) and its terminal event. */
export interface LogHead {
  lastSeq: number;
  terminal: TaskEvent | undefined;
}

/** An event on its way to a shared log: its name and its data already as JSON (the SSE frame's `data:` text). */
export interface SerializedEvent {
  event: TaskEventName;
  json: string;
}

/**
 * What a batch append did: `written` up to `lastSeq`; `closed`: a terminal event already ended
 * the log; `out_of_step`: the log's next seq was `nextSeq`, not the batch's first (an earlier
 * batch was lost, or another writer appended). Nothing is written unless `written`.
 */
export type BatchAppend = { kind: 'written'; lastSeq: number } | { kind: 'closed' } | { kind: 'out_of_step'; nextSeq: number };

/**
 * One task's ordered events, readable and followable from any replica. Differences from the
 * in-memory EventLog: seq is assigned by the backend (any replica may append, e.g. a survivor
 * ending a lost replica's task); `append` resolves to 0 when a terminal event already closed the
 * log, so exactly one terminal event exists however many writers race; there is no `bytes`
 * (the backend trims by TTL) and no `close` (a follower unsubscribes, the stream expires).
 */
export interface SharedEventLog {
  readonly taskId: string;
  append<E extends TaskEventName>(event: E, data: EventDataOf<E>): Promise<number>;
  /**
   * Appends `events` in order in one atomic step (a follower sees all of them or none yet), the
   * first at seq `firstSeq` or not at all; nothing after a terminal event among them. The
   * runner's write-behind: one call per engine read, not per event.
   */
  appendBatch(events: readonly SerializedEvent[], firstSeq: number): Promise<BatchAppend>;
  head(): Promise<LogHead>;
  since(afterSeq: number): Promise<readonly TaskEvent[]>;
  /**
   * Delivers every event with seq > afterSeq exactly once, in order: the replay and the live
   * tail are one read loop on one cursor, so an append racing the subscription is neither lost
   * nor repeated. Stops after the terminal event. `onFailure` hears a backend failure once
   * (the reader then resumes elsewhere with its last id). Returns the unsubscribe.
   */
  follow(afterSeq: number, listener: LogListener, onFailure?: (error: Error) => void): () => void;
}

export interface SharedEventLogs {
  of(taskId: string): SharedEventLog;
  close(): Promise<void>;
}
