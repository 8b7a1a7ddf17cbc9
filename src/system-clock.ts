// The real clock and timers behind core's Clock/TimerClock ports (wall clock, monotonic clock,
// unref'd Node timers). Nothing else in src/ calls setTimeout for task or pool timing.

import type { Timer, TimerClock } from './core/ports.ts';

/** Node caps a timer at 2^31-1 ms (it fires at once beyond); longer waits are re-armed. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * One timer as an object with methods, not closures: every running task holds a few (idle and
 * wall watchdogs, its stream's timers), and closures per timer cost ~120 bytes more each at
 * 10,000 open streams (issue 14).
 */
class SystemTimer implements Timer {
  #due: number;
  #armed = false;
  #handle: NodeJS.Timeout | undefined;
  readonly #ms: number;
  readonly #fn: () => void;

  constructor(ms: number, fn: () => void) {
    this.#ms = ms;
    this.#fn = fn;
    this.#due = performance.now() + ms;
    this.#arm(ms);
  }

  // A timer that fires before its due time (a refresh moved it, or the wait was capped)
  // re-arms for what is left, so a refresh costs one clock read, not a new Node timer: the
  // idle watchdog is refreshed for every read of every engine stream (issue 14).
  #arm(wait: number): void {
    this.#armed = true;
    this.#handle = setTimeout(fire, Math.min(Math.max(0, wait), MAX_TIMER_MS), this);
    this.#handle.unref();
  }

  /** The Node timer fired. */
  expire(): void {
    const left = this.#due - performance.now();
    if (left > 1) return this.#arm(left);
    this.#armed = false;
    this.#fn();
  }

  cancel(): void {
    this.#armed = false;
    clearTimeout(this.#handle);
  }

  refresh(): void {
    this.#due = performance.now() + this.#ms;
    if (!this.#armed) this.#arm(this.#ms);
  }
}

/** The one callback of every Node timer behind a SystemTimer (its argument says which). */
function fire(timer: SystemTimer): void {
  timer.expire();
}

export const systemClock: TimerClock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer(ms: number, fn: () => void): Timer {
    return new SystemTimer(ms, fn);
  },
};
