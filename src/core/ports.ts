// What core needs from the outside world, injected so the domain stays pure and testable:
// time, ids and randomness. Implementations live in main.ts (real) and in tests (fake).

export interface Clock {
  /** Wall-clock epoch milliseconds (timestamps, session TTLs). */
  now(): number;
  /** Monotonic milliseconds for durations; never goes backwards. */
  monotonic(): number;
}

export interface IdSource {
  /** A new random UUID v4 string. */
  uuid(): string;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};
