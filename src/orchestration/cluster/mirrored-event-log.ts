// The event log of a task this replica runs with the redis state backend: the in-memory log
// serves local readers at once (time to first token stays local), and every event is written
// behind it to the task's Redis Stream for readers on other replicas. The stream appends are
// sent in order on one auto-pipelined connection and never awaited one by one; the stream's
// own script refuses anything after a terminal event, so exactly one terminal event exists
// even when a survivor ended the task first (lost replica).

import type { EventLog, LogListener } from '../../core/state-ports.ts';
import { TaskEventLog } from '../../core/task/event-log.ts';
import type { EventDataOf, TaskEvent, TaskEventName } from '../../core/task/events.ts';
import type { SharedEventLog } from '../../state/shared-state-ports.ts';

export interface MirrorFailure {
  taskId: string;
  /** The local seq whose stream append failed or landed at another seq. */
  seq: number;
  error: unknown;
}

export class MirroredEventLog implements EventLog {
  readonly #local = new TaskEventLog();
  readonly #shared: SharedEventLog;
  readonly #onFailure: (failure: MirrorFailure) => void;
  /** Set once an append was lost: the stream then stops (its readers see no gap, only an end of data). */
  #broken = false;

  constructor(shared: SharedEventLog, onFailure: (failure: MirrorFailure) => void) {
    this.#shared = shared;
    this.#onFailure = onFailure;
  }

  get lastSeq(): number {
    return this.#local.lastSeq;
  }
  get terminal(): TaskEvent | undefined {
    return this.#local.terminal;
  }
  get listenerCount(): number {
    return this.#local.listenerCount;
  }
  get bytes(): number {
    return this.#local.bytes;
  }

  append<E extends TaskEventName>(event: E, data: EventDataOf<E>): number {
    const seq = this.#local.append(event, data);
    if (seq === 0 || this.#broken) return seq;
    this.#shared.append(event, data).then(
      (written) => {
        // 0: the stream was closed by another writer (a survivor's terminal error); another
        // seq: an earlier append was lost. Either way later events must not follow.
        if (written !== seq) this.#fail(seq, new Error(written === 0 ? 'the stream was ended by another replica' : `stream seq ${written} for local seq ${seq}`));
      },
      (error: unknown) => this.#fail(seq, error),
    );
    return seq;
  }

  follow(afterSeq: number, listener: LogListener): () => void {
    return this.#local.follow(afterSeq, listener);
  }

  since(afterSeq: number): readonly TaskEvent[] {
    return this.#local.since(afterSeq);
  }

  close(): void {
    this.#local.close();
  }

  #fail(seq: number, error: unknown): void {
    if (this.#broken) return;
    this.#broken = true;
    this.#onFailure({ taskId: this.#shared.taskId, seq, error });
  }
}
