// Keeps finished tasks readable for `server.retention_ms`, and at most
// `server.max_finished_tasks` of them: past the bound the oldest is forgotten early, so memory
// stays bounded under sustained load. Forgetting calls back into the task service's table.

import type { Timer, TimerClock } from '../core/ports.ts';
import type { Task } from './task.ts';

export class FinishedTasks {
  /** Oldest first (a Map keeps insertion order): each task with its removal timer. */
  private readonly finished = new Map<Task, Timer>();
  private readonly clock: TimerClock;
  private readonly retentionMs: () => number;
  private readonly max: () => number;
  private readonly onForget: (task: Task) => void;

  constructor(opts: { clock: TimerClock; retentionMs: () => number; max: () => number; onForget: (task: Task) => void }) {
    this.clock = opts.clock;
    this.retentionMs = opts.retentionMs;
    this.max = opts.max;
    this.onForget = opts.onForget;
  }

  get size(): number {
    return this.finished.size;
  }

  add(task: Task): void {
    this.finished.set(task, this.clock.setTimer(this.retentionMs(), () => this.forget(task)));
    const max = this.max();
    for (const oldest of this.finished.keys()) {
      if (this.finished.size <= max) break;
      this.forget(oldest);
    }
  }

  /** Forgets every retained task now (shutdown). */
  clear(): void {
    for (const task of [...this.finished.keys()]) this.forget(task);
  }

  private forget(task: Task): void {
    this.finished.get(task)?.cancel();
    this.finished.delete(task);
    task.log.close();
    this.onForget(task);
  }
}
