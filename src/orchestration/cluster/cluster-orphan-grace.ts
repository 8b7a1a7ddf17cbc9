// The orphan grace of tasks this replica runs, with the redis backend (ORCH-0206): readers are
// counted where they are (the local Task's readers; the Redis count of readers on other
// replicas, reader-count.ts). The grace starts when the last local reader leaves, or when
// another replica's last reader leaves and none is here; when it runs out, the task is canceled
// (`orphaned`) only if no live replica has a reader either.

import type { Redis } from 'ioredis';
import type { Timer, TimerClock } from '../../core/ports.ts';
import type { ReaderCount } from '../../state/redis/reader-count.ts';
import { unavailable } from '../../state/state-errors.ts';
import type { Ending, Task } from '../task.ts';

export interface ClusterOrphanGraceDeps {
  readers: Pick<ReaderCount, 'count' | 'goneChannel'>;
  subscriber: Redis;
  clock: TimerClock;
  /** `server.orphan_grace_ms` now (reloadable); 0 = never. */
  graceMs(): number;
  /** A task this replica runs and has not ended. */
  running(taskId: string): Task | undefined;
  finish(task: Task, ending: Ending): void;
}

export class ClusterOrphanGrace {
  readonly #deps: ClusterOrphanGraceDeps;
  readonly #onMessage = (channel: string, taskId: string) => {
    if (channel === this.#deps.readers.goneChannel) this.#deps.running(taskId)?.readerLeftElsewhere();
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

  /** The Task's `orphanTimer`: the memory grace, judged cluster-wide when it runs out. */
  timer(task: Task): Timer | undefined {
    const graceMs = this.#deps.graceMs();
    if (graceMs === 0 || task.request.detach === true) return undefined;
    return this.#deps.clock.setTimer(graceMs, () => void this.#judge(task));
  }

  async #judge(task: Task): Promise<void> {
    // A reader leaving while the count is read starts a new grace (and judges again after it).
    task.orphanGraceOver();
    if (task.readers > 0 || task.finished) return;
    let elsewhere: number;
    try {
      elsewhere = await this.#deps.readers.count(task.id);
    } catch {
      return; // Unknown (Redis gone): a task a reader may be following is not canceled.
    }
    if (elsewhere === 0 && task.readers === 0 && !task.finished) this.#deps.finish(task, { state: 'canceled', reason: 'orphaned' });
  }
}
