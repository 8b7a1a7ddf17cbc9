// A per-replica circuit breaker: opens after N consecutive failures, lets one half-open trial
// through after `openMs`, closes on a success. Time is passed in, so it is trivially testable.

import type { BreakerState } from '../core/placement/decide.ts';

export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private stateValue: BreakerState = 'closed';
  private readonly threshold: number;
  private readonly openMs: number;

  constructor(opts: { failures: number; openMs: number }) {
    this.threshold = opts.failures;
    this.openMs = opts.openMs;
  }

  /** Current state; an open breaker whose wait has passed reads as half_open. */
  state(nowMs: number): BreakerState {
    if (this.stateValue === 'open' && nowMs - this.openedAt >= this.openMs) this.stateValue = 'half_open';
    return this.stateValue;
  }

  success(): void {
    this.failures = 0;
    this.stateValue = 'closed';
  }

  failure(nowMs: number): void {
    this.failures++;
    if (this.stateValue === 'half_open' || this.failures >= this.threshold) {
      this.stateValue = 'open';
      this.openedAt = nowMs;
    }
  }
}
