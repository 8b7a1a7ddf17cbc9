// The memory path's timers for a task this replica claimed, counted from its admission wherever
// it was: the deadline, and the unclaimed-stream timeout, which counts a reader on any replica (a
// local reader, or the mark a reader elsewhere leaves in Redis, read once when the timer fires).
// The orphan grace is the Task's own timer, judged cluster-wide (cluster-orphan-grace.ts).

import { orchError } from '../../core/errors.ts';
import type { TimerClock } from '../../core/ports.ts';
import type { Ending, Task } from '../task.ts';

export interface ClaimedTimersDeps {
  clock: TimerClock;
  /** `server.unclaimed_stream_timeout_ms`; 0 = never. */
  unclaimedMs: number;
  finish(ending: Ending): void;
  /** Whether a reader opened the task's stream on another replica. */
  openedElsewhere(): Promise<boolean>;
}

export function armClaimedTaskTimers(task: Task, deps: ClaimedTimersDeps): void {
  const { clock } = deps;
  const ageMs = clock.monotonic() - task.createdMono;
  const deadline = task.request.deadline_ms;
  if (deadline !== undefined) {
    task.own(clock.setTimer(Math.max(0, deadline - ageMs), () => {
      deps.finish({ state: 'expired', error: orchError('DEADLINE_EXCEEDED', `deadline of ${deadline} ms passed`), reason: 'deadline' });
    }));
  }
  if (deps.unclaimedMs > 0) {
    task.own(clock.setTimer(Math.max(0, deps.unclaimedMs - ageMs), () => void endIfUnclaimed(task, deps)));
  }
}

async function endIfUnclaimed(task: Task, deps: ClaimedTimersDeps): Promise<void> {
  if (task.streamOpened || task.finished) return;
  let opened: boolean;
  try {
    opened = await deps.openedElsewhere();
  } catch {
    return; // Unknown (Redis gone): a task a reader may be following is not canceled.
  }
  if (!opened && !task.streamOpened) deps.finish({ state: 'canceled', reason: 'unclaimed' });
}
