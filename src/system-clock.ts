// The real clock and timers behind core's Clock/TimerClock ports (wall clock, monotonic clock,
// unref'd Node timers). Nothing else in src/ calls setTimeout for task or pool timing.

import type { Timer, TimerClock } from './core/ports.ts';

/** Node caps a timer at 2^31-1 ms (it fires at once beyond); longer waits are re-armed. */
const MAX_TIMER_MS = 2_147_483_647;

export const systemClock: TimerClock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer(ms: number, fn: () => void): Timer {
    let due = performance.now() + ms;
    let handle: NodeJS.Timeout;
    const arm = (wait: number) => {
      handle = setTimeout(() => {
        const left = due - performance.now();
        if (left > 1) arm(left);
        else fn();
      }, Math.min(Math.max(0, wait), MAX_TIMER_MS));
      handle.unref();
    };
    arm(ms);
    return {
      cancel: () => clearTimeout(handle),
      refresh: () => {
        clearTimeout(handle);
        due = performance.now() + ms;
        arm(ms);
      },
    };
  },
};
