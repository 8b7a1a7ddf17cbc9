// The event log of a task this replica runs with the redis state backend: the in-memory log
// serves local readers at once (time to first token stays local), and its events are written
// behind it to the task's Redis Stream for readers on other replicas: the events of one engine
// read (one synchronous burst of appends) go as ONE batch, sent when that burst is over (a
// microtask, never a timer), the terminal event at once; batches go in order on one
// auto-pipelined connection, never awaited one by one. Each batch must land at the seq the local
// log gave its first event, or the mirroring of that task stops: a survivor ended the task first
// (lost replica), or an earlier batch was lost; remote readers then see no gap, only no more.

import type { EventLog, LogListener } from '../../core/state-ports.ts';
import { TaskEventLog } from '../../core/task/event-log.ts';
import type { EventDataOf, TaskEvent, TaskEventName } from '../../core/task/events.ts';
import type { BatchAppend, SerializedEvent, SharedEventLog } from '../../state/shared-state-ports.ts';

export interface MirrorFailure {
  taskId: string;
  /** The local seq of the first event of the batch whose stream append failed or was refused. */
  seq: number;
  error: unknown;
}

export class MirroredEventLog implements EventLog {
  readonly #local = new TaskEventLog();
  readonly #shared: SharedEventLog;
  readonly #onFailure: (failure: MirrorFailure) => void;
  /** Events appended locally and not sent yet: the newest ones, consecutive, ending at lastSeq. */
  #pending: SerializedEvent[] = [];
  /** Set once a batch was lost or refused: the stream then stops (its readers see no gap, only an end of data). */
  #broken = false;
  readonly #flush = (): void => this.#send();

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
    // The frame's data text, not a second JSON.stringify (the stream stores the same text).
    this.#pending.push({ event, json: this.#local.dataJsonOf(seq) as string });
    if (event === 'end' || event === 'error') this.#send();
    else if (this.#pending.length === 1) queueMicrotask(this.#flush);
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

  /** Sends what is pending as one batch (a no-op once the terminal event sent it already). */
  #send(): void {
    const batch = this.#pending;
    if (batch.length === 0 || this.#broken) return;
    this.#pending = [];
    const lastSeq = this.#local.lastSeq;
    const firstSeq = lastSeq - batch.length + 1;
    this.#shared.appendBatch(batch, firstSeq).then(
      (outcome) => {
        if (outcome.kind !== 'written' || outcome.lastSeq !== lastSeq) this.#fail(firstSeq, new Error(refusal(outcome, firstSeq, lastSeq)));
      },
      (error: unknown) => this.#fail(firstSeq, error),
    );
  }

  #fail(seq: number, error: unknown): void {
    if (this.#broken) return;
    this.#broken = true;
    this.#pending = [];
    this.#onFailure({ taskId: this.#shared.taskId, seq, error });
  }
}

function refusal(outcome: BatchAppend, firstSeq: number, lastSeq: number): string {
  switch (outcome.kind) {
    case 'closed':
      return 'the stream was ended by another replica';
    case 'out_of_step':
      return `the stream's next seq is ${outcome.nextSeq}, not ${firstSeq} (an earlier batch was lost)`;
    case 'written':
      return `the stream took seqs ${firstSeq}..${outcome.lastSeq} of ${firstSeq}..${lastSeq}`;
  }
}
