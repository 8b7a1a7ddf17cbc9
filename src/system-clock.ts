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
    let armed = false;
    let handle: NodeJS.Timeout | undefined;
    // A timer that fires before its due time (a refresh moved it, or the wait was capped)
    // re-arms for what is left, so a refresh costs one clock read, not a new Node timer: the
    // idle watchdog is refreshed for every read of every engine stream (issue 14).
    const arm = (wait: number) => {
      armed = true;
      handle = setTimeout(() => {
        const left = due - performance.now();
        if (left > 1) return arm(left);
        armed = false;
        fn();
      }, Math.min(Math.max(0, wait), MAX_TIMER_MS));
      handle.unref();
    };
    arm(ms);
    return {
      cancel: () => {
        armed = false;
        clearTimeout(handle);
      },
      refresh: () => {
        due = performance.now() + ms;
        if (!armed) arm(ms);
      },
    };
  },
};
