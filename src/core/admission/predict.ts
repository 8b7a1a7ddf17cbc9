// Queue-time and finish-time predictions for admission (deadline feasibility, 202 answer) and
// honest retry hints for 429s, plus the per-pool running averages that feed them. Pure
// arithmetic: the caller supplies queue state and measured speeds; nothing here reads a clock.
//
// The model (fluid approximation): while every slot is busy, slots free at an average rate of
// slotsTotal / avgServiceMs, so the k-th release after now comes at k × avgServiceMs / slotsTotal.
// A queued task at 0-based position p starts when p + 1 - slotsFree releases have happened.

export interface StartInput {
  /** 0-based place in the pool's dispatch order. */
  position: number;
  slotsTotal: number;
  slotsBusy: number;
  /** Mean time a task holds a slot, from ServiceStats. */
  avgServiceMs: number;
}

/** 0 when a slot is free for this position; Infinity when the pool has no slots to predict from. */
export function predictStartMs({ position, slotsTotal, slotsBusy, avgServiceMs }: StartInput): number {
  const slotsFree = Math.max(0, slotsTotal - slotsBusy);
  const releasesNeeded = position + 1 - slotsFree;
  if (releasesNeeded <= 0) return 0;
  if (slotsTotal <= 0 || !Number.isFinite(avgServiceMs)) return Number.POSITIVE_INFINITY;
  return Math.ceil((releasesNeeded * avgServiceMs) / slotsTotal);
}

export interface FinishInput {
  startMs: number;
  maxTokens: number;
  tokensPerS: number;
  ttftMs: number;
}

/**
 * Start + time to first token + the remaining max_tokens - 1 tokens at the measured speed.
 * max_tokens is an upper bound (a stop sequence may end sooner), so this is the latest likely
 * finish: deadline checks err towards refusing work they cannot promise.
 */
export function predictFinishMs({ startMs, maxTokens, tokensPerS, ttftMs }: FinishInput): number {
  if (!(tokensPerS > 0) || !Number.isFinite(startMs)) return Number.POSITIVE_INFINITY;
  const decodeMs = (Math.max(0, maxTokens - 1) * 1000) / tokensPerS;
  return Math.ceil(startMs + ttftMs + decodeMs);
}

export interface BackoffInput {
  /** Entries waiting now. */
  queued: number;
  slotsTotal: number;
  avgServiceMs: number;
  /** Queue capacity; omitted means the queue is exactly full (the caller was just refused). */
  maxQueued?: number;
  /** Omitted means every slot is busy, the usual state when the queue is full. */
  slotsBusy?: number;
  /** Hint when the model has nothing to go on (no slots, no finite service time). */
  fallbackMs?: number;
}

/**
 * Time until the queue likely has room for one more entry: each slot release dispatches one
 * queued task and so frees one place. Over capacity (after a shrinking reload) more releases
 * are needed. Always >= 1 ms. Every refused client gets the same hint; jitter, if wanted,
 * belongs to the client.
 */
export function backoffMs(input: BackoffInput): number {
  const { queued, slotsTotal, avgServiceMs, maxQueued, slotsBusy, fallbackMs = 1_000 } = input;
  const mustLeave = maxQueued === undefined ? 1 : Math.max(1, queued - maxQueued + 1);
  const slotsFree = slotsBusy === undefined ? 0 : Math.max(0, slotsTotal - slotsBusy);
  const releasesNeeded = mustLeave - slotsFree;
  if (releasesNeeded <= 0) return 1;
  if (slotsTotal <= 0 || !Number.isFinite(avgServiceMs)) return Math.max(1, Math.ceil(fallbackMs));
  return Math.max(1, Math.ceil((releasesNeeded * avgServiceMs) / slotsTotal));
}

/** The `Retry-After` header value: whole seconds, rounded up, at least 1 (RFC 9110 §10.2.3). */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

export interface ServicePriors {
  serviceMs: number;
  tokensPerS: number;
  ttftMs: number;
}

/** Used until a pool has measured itself; seed real values from config where they are known. */
export const DEFAULT_PRIORS: Readonly<ServicePriors> = { serviceMs: 1_000, tokensPerS: 50, ttftMs: 200 };

export interface ServiceObservation {
  /** Time the task held its slot. */
  serviceMs: number;
  tokens: number;
  ttftMs: number;
  /** Decode speed from the task's figures (src/core/task/figures.ts); 0 when unmeasurable. */
  tokensPerS: number;
}

/**
 * One pool's exponentially weighted averages. The prior counts as one observation, so early
 * samples replace it quickly (weight 1/(n+1)) before the weight settles at `alpha`.
 */
export class ServiceStats {
  readonly #alpha: number;
  readonly #avg: ServicePriors;
  readonly #samples = { serviceMs: 0, tokensPerS: 0, ttftMs: 0 };

  constructor(opts: { priors?: Partial<ServicePriors>; alpha?: number } = {}) {
    this.#alpha = opts.alpha ?? 0.2;
    // A wiring bug, not an expected outcome: alpha outside (0, 1] breaks the average.
    if (!(this.#alpha > 0 && this.#alpha <= 1)) throw new RangeError(`ServiceStats: alpha must be in (0, 1], got ${this.#alpha}`);
    this.#avg = { ...DEFAULT_PRIORS, ...opts.priors };
  }

  get avgServiceMs(): number {
    return this.#avg.serviceMs;
  }

  get tokensPerS(): number {
    return this.#avg.tokensPerS;
  }

  get ttftMs(): number {
    return this.#avg.ttftMs;
  }

  /**
   * A task that produced no token (failed or canceled before it) says nothing about speed and
   * is ignored; so is a non-finite or negative figure. Tokens/s needs two tokens to measure.
   */
  observe({ serviceMs, tokens, ttftMs, tokensPerS }: ServiceObservation): void {
    if (!(tokens >= 1)) return;
    this.#mix('serviceMs', serviceMs);
    this.#mix('ttftMs', ttftMs);
    if (tokensPerS > 0) this.#mix('tokensPerS', tokensPerS);
  }

  #mix(key: keyof ServicePriors, value: number): void {
    if (!(Number.isFinite(value) && value >= 0)) return;
    const n = ++this.#samples[key];
    const weight = Math.max(this.#alpha, 1 / (n + 1));
    this.#avg[key] += weight * (value - this.#avg[key]);
  }
}
