// What core needs from the outside world, injected so the domain stays pure and testable:
// time, timers, ids and randomness. The real implementations live in src/system-clock.ts and
// main.ts; tests use test/support/fake-clock.ts. Shared-state ports are in state-ports.ts.

export interface Clock {
  /** Wall-clock epoch milliseconds (timestamps, session TTLs). */
  now(): number;
  /** Monotonic milliseconds for durations; never goes backwards. */
  monotonic(): number;
}

/** A pending one-shot timer. */
export interface Timer {
  cancel(): void;
  /** Restarts the countdown from now with the same delay (an idle watchdog). */
  refresh(): void;
}

/**
 * A clock that can also run code later: deadlines, watchdogs, retention and backoff wake-ups
 * go through it, so the shell's timing is unit-tested with a fake clock. Timers never keep the
 * process alive by themselves.
 */
export interface TimerClock extends Clock {
  setTimer(ms: number, fn: () => void): Timer;
  /**
   * A timer for long watchdogs held by every running task (idle, wall): never early, at most
   * 0.5 s late, and much cheaper in memory than setTimer's (issue 14). Absent: use setTimer.
   */
  setCoarseTimer?(ms: number, fn: () => void): Timer;
}

export interface IdSource {
  /** A new random UUID v4 string. */
  uuid(): string;
}
