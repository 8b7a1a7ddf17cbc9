// The orphan grace with the redis backend (ORCH-0206): readers are counted where they are (a
// local Task's readers on its runner; readers on other replicas in Redis, reader-count.ts). A
// running task's grace is its Task's timer, started when its last local reader leaves or another
// replica's last reader leaves with none here; a queued task's grace runs on its admitter (the
// registry owner the detach notifies). Either cancels (`orphaned`) only if no reader is left anywhere.

import type { Redis } from 'ioredis';
import type { Timer, TimerClock } from '../../core/ports.ts';
import type { ReaderCount } from '../../state/redis/reader-count.ts';
import { unavailable } from '../../state/state-errors.ts';
import type { Ending, Task } from '../task.ts';

export interface ClusterOrphanGraceDeps {
  readers: Pick<ReaderCount, 'standing' | 'goneChannel'>;
  subscriber: Redis;
  clock: TimerClock;
  /** `server.orphan_grace_ms` now (reloadable); 0 = never. */
  graceMs(): number;
  /** A task this replica runs and has not ended. */
  running(taskId: string): Task | undefined;
  finish(task: Task, ending: Ending): void;
  /** Withdraws and ends the task if it is still queued, admitted here, not detached and unread anywhere. */
  endQueuedOrphan(taskId: string): Promise<void>;
}

export class ClusterOrphanGrace {
  readonly #deps: ClusterOrphanGraceDeps;
  /** Graces of queued tasks this replica admitted. */
  readonly #queued = new Map<string, Timer>();
  readonly #onMessage = (channel: string, taskId: string) => {
    if (channel === this.#deps.readers.goneChannel) this.#readersGone(taskId);
  };

  constructor(deps: ClusterOrphanGraceDeps) {
    this.#deps = deps;
  }

  /** Hears "a replica's last reader of your task left" (published by the detach script). */
  async start(): Promise<void> {
    this.#deps.subscriber.on('message', this.#onMessage);
    try {
      await this.#deps.subscriber.subscribe(this.#deps.readers.goneChannel);
    } catch (error) {
      throw unavailable('readers-gone subscribe', error);
    }
  }

  /** Drops the queued tasks' graces (shutdown). */
  stop(): void {
    for (const timer of this.#queued.values()) timer.cancel();
    this.#queued.clear();
  }

  /** The Task's `orphanTimer`: the memory grace, judged cluster-wide when it runs out. */
  timer(task: Task): Timer | undefined {
    const graceMs = this.#deps.graceMs();
    if (graceMs === 0 || task.request.detach === true) return undefined;
    return this.#deps.clock.setTimer(graceMs, () => void this.#judge(task));
  }

  /**
   * A task claimed from the shared queue: readers that opened its stream and all left while it
   * waited told its admitter, not this runner, so the count is read once (off the task's path).
   */
  claimed(task: Task): void {
    if (this.#deps.graceMs() === 0 || task.request.detach === true) return;
    this.#deps.readers.standing(task.id).then(
      ({ opened, readers }) => {
        if (opened && readers === 0) task.readerLeftElsewhere();
      },
      () => undefined, // Unknown: its readers' later leaves still start the grace.
    );
  }

  #readersGone(taskId: string): void {
    const running = this.#deps.running(taskId);
    if (running !== undefined) return running.readerLeftElsewhere();
    const graceMs = this.#deps.graceMs();
    if (graceMs === 0 || this.#queued.has(taskId)) return;
    this.#queued.set(taskId, this.#deps.clock.setTimer(graceMs, () => {
      this.#queued.delete(taskId);
      void this.#deps.endQueuedOrphan(taskId).catch(() => undefined);
    }));
  }

  async #judge(task: Task): Promise<void> {
    // A reader leaving while the count is read starts a new grace (and judges again after it).
    task.orphanGraceOver();
    if (task.readers > 0 || task.finished) return;
    let elsewhere: number;
    try {
      elsewhere = (await this.#deps.readers.standing(task.id)).readers;
    } catch {
      return; // Unknown (Redis gone): a task a reader may be following is not canceled.
    }
    if (elsewhere === 0 && task.readers === 0 && !task.finished) this.#deps.finish(task, { state: 'canceled', reason: 'orphaned' });
  }
}
