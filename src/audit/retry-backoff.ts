// Retry pacing for a failing audit store: the wait doubles with each failure up to a cap and
// starts over after a success, so an outage costs a few probes, not a busy loop.

export class RetryBackoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  #nextMs: number;
  #retryAtMs = 0;

  constructor(initialMs: number, maxMs: number) {
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
    this.#nextMs = initialMs;
  }

  /** Records a failure at `nowMs`; returns how long until the next attempt. */
  failed(nowMs: number): number {
    const delay = this.#nextMs;
    this.#retryAtMs = nowMs + delay;
    this.#nextMs = Math.min(this.#nextMs * 2, this.#maxMs);
    return delay;
  }

  succeeded(): void {
    this.#nextMs = this.#initialMs;
    this.#retryAtMs = 0;
  }

  /** Time left before the next attempt is due (0 when due). */
  waitMs(nowMs: number): number {
    return Math.max(0, this.#retryAtMs - nowMs);
  }
}
