// Keeps finished tasks readable for `server.retention_ms`, bounded by count
// (`server.max_finished_tasks`) and by estimated heap bytes (`server.retention_max_bytes`):
// past either bound the oldest is forgotten early, so memory stays bounded under sustained load
// whatever the clients send (issue 10 finding 1). Forgetting calls back into the task table.

import type { Timer, TimerClock } from '../core/ports.ts';
import type { Task } from './task.ts';

interface Retained {
  timer: Timer;
  /** The task's estimate when it ended: its log is closed, so it no longer grows. */
  bytes: number;
}

export interface RetentionLimits {
  retentionMs: () => number;
  max: () => number;
  maxBytes: () => number;
}

export class FinishedTasks {
  /** Oldest first (a Map keeps insertion order). */
  private readonly finished = new Map<Task, Retained>();
  private readonly clock: TimerClock;
  private readonly limits: RetentionLimits;
  private readonly onForget: (task: Task) => void;
  private byteCount = 0;

  constructor(opts: RetentionLimits & { clock: TimerClock; onForget: (task: Task) => void }) {
    this.clock = opts.clock;
    this.limits = { retentionMs: opts.retentionMs, max: opts.max, maxBytes: opts.maxBytes };
    this.onForget = opts.onForget;
  }

  get size(): number {
    return this.finished.size;
  }

  /** Estimated heap bytes of the retained tasks (the `orchqueue_retained_task_bytes` gauge). */
  get bytes(): number {
    return this.byteCount;
  }

  add(task: Task): void {
    const bytes = task.retainedBytes;
    this.finished.set(task, { timer: this.clock.setTimer(this.limits.retentionMs(), () => this.forget(task)), bytes });
    this.byteCount += bytes;
    const max = this.limits.max();
    const maxBytes = this.limits.maxBytes();
    for (const oldest of this.finished.keys()) {
      if (this.finished.size <= max && this.byteCount <= maxBytes) break;
      this.forget(oldest);
    }
  }

  /** Forgets every retained task now (shutdown). */
  clear(): void {
    for (const task of [...this.finished.keys()]) this.forget(task);
  }

  private forget(task: Task): void {
    const retained = this.finished.get(task);
    if (retained) {
      retained.timer.cancel();
      this.byteCount -= retained.bytes;
    }
    this.finished.delete(task);
    task.log.close();
    this.onForget(task);
  }
}
