// A manual clock for unit tests of the shell's timing (dispatcher watchdogs, deadlines,
// retention): time moves only when the test calls advance(), and due timers fire in order.

import type { Timer, TimerClock } from '../../src/core/ports.ts';

interface Pending {
  due: number;
  seq: number;
  ms: number;
  fn: () => void;
  live: boolean;
}

export class FakeClock implements TimerClock {
  private mono = 0;
  private wall: number;
  private seq = 0;
  private readonly pending = new Set<Pending>();

  constructor(startWallMs = Date.UTC(2026, 0, 1)) {
    this.wall = startWallMs;
  }

  now(): number {
    return this.wall;
  }

  monotonic(): number {
    return this.mono;
  }

  setTimer(ms: number, fn: () => void): Timer {
    const entry: Pending = { due: this.mono + Math.max(0, ms), seq: this.seq++, ms, fn, live: true };
    this.pending.add(entry);
    return {
      cancel: () => {
        entry.live = false;
        this.pending.delete(entry);
      },
      refresh: () => {
        if (!entry.live) return;
        entry.due = this.mono + Math.max(0, entry.ms);
        entry.seq = this.seq++;
      },
    };
  }

  /** Timers still waiting to fire. */
  get timers(): number {
    return this.pending.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    const target = this.mono + ms;
    for (;;) {
      let next: Pending | undefined;
      for (const p of this.pending) {
        if (p.due <= target && (!next || p.due < next.due || (p.due === next.due && p.seq < next.seq))) next = p;
      }
      if (!next) break;
      this.pending.delete(next);
      next.live = false;
      this.wall += next.due - this.mono;
      this.mono = next.due;
      next.fn();
    }
    this.wall += target - this.mono;
    this.mono = target;
  }
}

/**
 * A TimerClock on Date.now and plain setTimeout, for tests that drive time with vitest's fake
 * timers (which fake both); `monotonic` may be pinned (e.g. to 0) where a test needs it still.
 */
export function dateTimerClock(monotonic: () => number = () => Date.now()): TimerClock {
  return {
    now: () => Date.now(),
    monotonic,
    setTimer(ms: number, fn: () => void): Timer {
      let handle = setTimeout(fn, ms);
      return {
        cancel: () => clearTimeout(handle),
        refresh: () => {
          clearTimeout(handle);
          handle = setTimeout(fn, ms);
        },
      };
    },
  };
}
