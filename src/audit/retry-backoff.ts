// Retry pacing for a failing audit store: the wait doubles with each failure up to a cap
// (core/backoff.ts, without jitter: one writer, no crowd to spread) and starts over after a
// success, so an outage costs a few probes, not a busy loop.

import { backoffCeilingMs, type BackoffCurve } from '../core/backoff.ts';

export class RetryBackoff {
  readonly #curve: BackoffCurve;
  /** Failures since the last success. */
  #failures = 0;
  #retryAtMs = 0;

  constructor(initialMs: number, maxMs: number) {
    this.#curve = { baseMs: initialMs, capMs: maxMs };
  }

  /** Records a failure at `nowMs`; returns how long until the next attempt. */
  failed(nowMs: number): number {
    const delay = backoffCeilingMs(this.#failures, this.#curve);
    this.#failures += 1;
    this.#retryAtMs = nowMs + delay;
    return delay;
  }

  succeeded(): void {
    this.#failures = 0;
    this.#retryAtMs = 0;
  }

  /** Time left before the next attempt is due (0 when due). */
  waitMs(nowMs: number): number {
    return Math.max(0, this.#retryAtMs - nowMs);
  }
}
