// The real clock and timers behind core's Clock/TimerClock ports (wall clock, monotonic clock,
// unref'd Node timers, and a shared coarse wheel for long watchdogs). Nothing else in src/ calls
// setTimeout for task or pool timing.

import type { Timer, TimerClock } from './core/ports.ts';
import { TimerWheel, type WheelEntry } from './timer-wheel.ts';

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

/** Width of a coarse timer's slot: such a timer fires at most 2 × this late (timer-wheel.ts). */
export const COARSE_SLOT_MS = 250;
/** Shorter coarse timers get an exact SystemTimer: half a second late would be a large share of them. */
export const COARSE_MIN_MS = 2_000;

const wheel = new TimerWheel(COARSE_SLOT_MS);

/**
 * A timer on the shared wheel: no Node Timeout of its own (issue 14: two per running task). Like
 * SystemTimer a refresh only moves the deadline; an entry whose slot comes before it re-links.
 */
class WheelTimer implements Timer, WheelEntry {
  wheelDue: number;
  wheelSlot = 0;
  wheelPrev: WheelEntry | undefined = undefined;
  wheelNext: WheelEntry | undefined = undefined;
  #linked = true;
  readonly #ms: number;
  readonly #fn: () => void;

  constructor(ms: number, fn: () => void) {
    this.#ms = ms;
    this.#fn = fn;
    this.wheelDue = performance.now() + ms;
    wheel.add(this);
  }

  wheelExpire(): void {
    // Never early: a refreshed deadline still ahead goes back on the wheel.
    if (this.wheelDue > performance.now()) return wheel.add(this);
    this.#linked = false;
    this.#fn();
  }

  cancel(): void {
    if (!this.#linked) return;
    this.#linked = false;
    wheel.remove(this);
  }

  refresh(): void {
    this.wheelDue = performance.now() + this.#ms;
    if (this.#linked) return;
    this.#linked = true;
    wheel.add(this);
  }
}

export const systemClock: TimerClock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer(ms: number, fn: () => void): Timer {
    return new SystemTimer(ms, fn);
  },
  setCoarseTimer(ms: number, fn: () => void): Timer {
    return ms >= COARSE_MIN_MS ? new WheelTimer(ms, fn) : new SystemTimer(ms, fn);
  },
};
