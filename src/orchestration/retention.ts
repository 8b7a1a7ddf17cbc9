// Keeps finished tasks readable for `server.retention_ms`, and at most
// `server.max_finished_tasks` of them: past the bound the oldest is forgotten early, so memory
// stays bounded under sustained load. Forgetting calls back into the task service's table.

import type { Task } from './task.ts';

export class FinishedTasks {
  /** Oldest first (a Set keeps insertion order). */
  private readonly finished = new Set<Task>();
  private readonly retentionMs: () => number;
  private readonly max: () => number;
  private readonly onForget: (task: Task) => void;

  constructor(opts: { retentionMs: () => number; max: () => number; onForget: (task: Task) => void }) {
    this.retentionMs = opts.retentionMs;
    this.max = opts.max;
    this.onForget = opts.onForget;
  }

  add(task: Task): void {
    task.removal = setTimeout(() => this.forget(task), this.retentionMs());
    task.removal.unref();
    this.finished.add(task);
    const max = this.max();
    for (const oldest of this.finished) {
      if (this.finished.size <= max) break;
      this.forget(oldest);
    }
  }

  private forget(task: Task): void {
    clearTimeout(task.removal);
    this.finished.delete(task);
    task.log.close();
    this.onForget(task);
  }
}
