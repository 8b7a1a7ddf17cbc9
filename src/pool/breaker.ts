// A per-replica circuit breaker: opens after N consecutive failures, lets one half-open trial
// through after `openMs`, closes on a success. The trial is a task, or a health probe that
// reaches the engine (then on probation: one more failure re-opens it). Time is passed in.

import type { BreakerState } from '../core/placement/decide.ts';

export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private stateValue: BreakerState = 'closed';
  private readonly threshold: number;
  private readonly openMs: number;

  /** Told each time the breaker (re-)opens, e.g. so the prober can time the half-open trial. */
  onOpen: (() => void) | undefined;

  constructor(opts: { failures: number; openMs: number }) {
    this.threshold = opts.failures;
    this.openMs = opts.openMs;
  }

  /** Current state; an open breaker whose wait has passed reads as half_open. */
  state(nowMs: number): BreakerState {
    if (this.stateValue === 'open' && nowMs - this.openedAt >= this.openMs) this.stateValue = 'half_open';
    return this.stateValue;
  }

  /**
   * A lease was granted. On a half-open breaker that lease is the single trial: the breaker
   * reads open again until the trial succeeds or fails. A trial that never resolves (the task
   * was canceled) frees another one after a further `openMs`.
   */
  leased(nowMs: number): void {
    if (this.state(nowMs) !== 'half_open') return;
    this.stateValue = 'open';
    this.openedAt = nowMs;
  }

  success(): void {
    this.failures = 0;
    this.stateValue = 'closed';
  }

  /**
   * A health probe reached the engine. On a half-open breaker that is the trial: it closes, on
   * probation (the next failure re-opens it at once), because a probe proves the engine answers,
   * not that it generates. An open breaker still waits out `openMs`; a closed one is unchanged.
   */
  probeSucceeded(nowMs: number): void {
    if (this.state(nowMs) !== 'half_open') return;
    this.stateValue = 'closed';
    this.failures = Math.max(0, this.threshold - 1);
  }

  /** Time until an open breaker allows its half-open trial; 0 when it is not open. */
  remainingOpenMs(nowMs: number): number {
    return this.state(nowMs) === 'open' ? Math.max(0, this.openedAt + this.openMs - nowMs) : 0;
  }

  /** Records a failure; true when this failure opened the breaker. */
  failure(nowMs: number): boolean {
    this.failures++;
    const wasOpen = this.stateValue === 'open';
    if (this.stateValue === 'half_open' || this.failures >= this.threshold || wasOpen) {
      this.stateValue = 'open';
      this.openedAt = nowMs;
      this.onOpen?.();
      return true;
    }
    return false;
  }

  /** How long an open breaker waits before its half-open trial. */
  get waitMs(): number {
    return this.openMs;
  }
}
