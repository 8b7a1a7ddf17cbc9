// The verdict of an admission's audit commit, for a replica that claimed the task before its
// admitter committed the row (the commit point: nothing of a task runs before it). The admitter
// writes the verdict key and announces it on the task's verdict channel in one MULTI; a claimer
// that found no verdict subscribes, reads the key once more (closing the race with an announce
// sent before it subscribed) and waits for the announce or its timeout: no polling.

import type { Redis } from 'ioredis';
import type { TimerClock } from '../../core/ports.ts';
import type { StateKeys } from '../../state/redis/keys.ts';

export interface CommitVerdictsDeps {
  /** The command connection (SET, PUBLISH, GET). */
  redis: Redis;
  /** The connection in subscribe mode (wake-ups and control share it). */
  subscriber: Redis;
  keys: StateKeys;
  clock: TimerClock;
  /** How long the verdict key lives (a claimer arriving later still reads it). */
  ttlMs: number;
}

const COMMITTED = '1';
const WITHDRAWN = '0';

export class CommitVerdicts {
  readonly #deps: CommitVerdictsDeps;
  /** Claimers waiting for an announce, by verdict channel. */
  readonly #waiting = new Map<string, (committed: boolean) => void>();
  readonly #onMessage = (channel: string, message: string) => {
    this.#waiting.get(channel)?.(message === COMMITTED);
  };

  constructor(deps: CommitVerdictsDeps) {
    this.#deps = deps;
    deps.subscriber.on('message', this.#onMessage);
  }

  /** The admitter's verdict: the key (for a claimer that reads later) and the announce (for one already waiting), atomically. */
  async publish(taskId: string, committed: boolean): Promise<void> {
    const { redis, keys, ttlMs } = this.#deps;
    const value = committed ? COMMITTED : WITHDRAWN;
    await redis.multi().set(keys.committed(taskId), value, 'PX', ttlMs).publish(keys.commitVerdict(taskId), value).exec();
  }

  /**
   * The verdict of `taskId`'s admission, for a claimer whose first read found none. Silence for
   * `timeoutMs` counts as withdrawn: the admitter died or could not write the verdict, and a task
   * whose commit is unknown must not run (its audit row may not exist).
   */
  async wait(taskId: string, timeoutMs: number): Promise<boolean> {
    const { redis, subscriber, keys, clock } = this.#deps;
    const channel = keys.commitVerdict(taskId);
    if (this.#waiting.has(channel)) throw new Error(`a second wait for the verdict of ${taskId}`);
    let settle: (committed: boolean) => void = () => undefined;
    const announced = new Promise<boolean>((resolve) => {
      settle = resolve;
    });
    this.#waiting.set(channel, settle);
    const timer = clock.setTimer(timeoutMs, () => settle(false));
    try {
      await subscriber.subscribe(channel);
      // An announce published before the subscription took effect is lost; its key is not.
      const written = await redis.get(keys.committed(taskId));
      if (written !== null) settle(written === COMMITTED);
      return await announced;
    } catch {
      // Redis gone while waiting: the verdict cannot be known, so the task does not run.
      return false;
    } finally {
      timer.cancel();
      this.#waiting.delete(channel);
      await subscriber.unsubscribe(channel).catch(() => undefined);
    }
  }

  close(): void {
    this.#deps.subscriber.off('message', this.#onMessage);
  }
}
