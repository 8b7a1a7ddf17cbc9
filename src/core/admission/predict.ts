// Queue-time and finish-time predictions for admission (deadline feasibility, 202 answer) and
// honest retry hints for 429s, plus the per-pool running averages that feed them. Pure
// arithmetic: the caller supplies slots, running work, queued work and speeds; nothing here
// reads a clock.
//
// The model (issue 10, finding 9): each slot serves its running task to the end, then the queue
// in dispatch order, earliest-free slot first. A running task ends after its expected remaining
// tokens at its replica's per-stream speed (plus a time to first token if none came yet); a
// queued one after a first token plus its expected tokens. Before any measurement the speed is
// the configured prior, so the first answer is already built from real work, not an average.

/** One running lease as the prediction sees it. */
export interface RunningWork {
  /** Tokens the task is still expected to produce. */
  remainingTokens: number;
  /** The first token came, so no time to first token is left to wait. */
  firstTokenSeen: boolean;
}

/** One replica that can take work: its slots, what runs in them, and its per-stream speed. */
export interface SlotGroup {
  slotsTotal: number;
  running: readonly RunningWork[];
  /** Decode speed of one stream, tokens/s (measured, or the prior). */
  tokensPerS: number;
  ttftMs: number;
}

export interface DispatchInput {
  groups: readonly SlotGroup[];
  /** Expected tokens of each task waiting ahead, in dispatch order. */
  queued: readonly number[];
}

/**
 * Time from now of the next `count` dispatches (the k-th entry is when the task at 0-based queue
 * position k starts), under the model above. Infinity when no slot exists or a speed is unusable.
 * O((running + count) log slots).
 */
export function dispatchTimesMs({ groups, queued }: DispatchInput, count: number): number[] {
  const heap = new SlotHeap();
  for (const g of groups) {
    const speed = g.tokensPerS > 0 && Number.isFinite(g.tokensPerS) ? g.tokensPerS : 0;
    let free = g.slotsTotal;
    for (const w of g.running) {
      // More leases than slots (a reload shrank the replica): each still holds a slot until it ends.
      if (free > 0) free--;
      heap.push({ atMs: speed > 0 ? serviceMs(w.remainingTokens, w.firstTokenSeen ? undefined : g.ttftMs, speed) : Number.POSITIVE_INFINITY, group: g, speed });
    }
    for (let i = 0; i < free; i++) heap.push({ atMs: 0, group: g, speed });
  }
  const times: number[] = [];
  for (let k = 0; k < count; k++) {
    const slot = heap.pop();
    if (slot === undefined) return [...times, ...new Array<number>(count - k).fill(Number.POSITIVE_INFINITY)];
    times.push(Math.ceil(slot.atMs));
    const tokens = queued[k] ?? 0;
    const next = slot.speed > 0 ? slot.atMs + serviceMs(tokens, slot.group.ttftMs, slot.speed) : Number.POSITIVE_INFINITY;
    heap.push({ ...slot, atMs: next });
  }
  return times;
}

/** `tokens` more at `tokensPerS`; before the first token, that token comes after `ttftMs` instead. */
function serviceMs(tokens: number, ttftMs: number | undefined, tokensPerS: number): number {
  if (ttftMs === undefined) return (Math.max(0, tokens) * 1000) / tokensPerS;
  return ttftMs + (Math.max(0, tokens - 1) * 1000) / tokensPerS;
}

/** 0 when a slot is free for this position; Infinity when the pool has no slots to predict from. */
export function predictStartMs(input: DispatchInput & { position: number }): number {
  return dispatchTimesMs(input, input.position + 1)[input.position] ?? Number.POSITIVE_INFINITY;
}

/**
 * Expected tokens still to come from a task: the measured share of max_tokens tasks really use
 * (`fill`, 1 before any history) of what is left. 0 once max_tokens is reached.
 */
export function expectedRemainingTokens(maxTokens: number, tokensOut: number, fill: number): number {
  return Math.max(0, maxTokens - tokensOut) * fill;
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

export interface BackoffInput extends DispatchInput {
  /** Queue capacity; omitted means the queue is exactly full (the caller was just refused). */
  maxQueued?: number;
  /** Hint when the model has nothing to go on (no slots, no usable speed). */
  fallbackMs?: number;
}

/**
 * Time until the queue likely has room for one more entry: each dispatch frees one place. Over
 * capacity (after a shrinking reload) more dispatches are needed. Always >= 1 ms. Every refused
 * client gets the same hint; jitter, if wanted, belongs to the client.
 */
export function backoffMs(input: BackoffInput): number {
  const { queued, maxQueued, fallbackMs = 1_000 } = input;
  const mustLeave = backoffDispatches(queued.length, maxQueued);
  const at = dispatchTimesMs(input, mustLeave)[mustLeave - 1] ?? Number.POSITIVE_INFINITY;
  if (!Number.isFinite(at)) return Math.max(1, Math.ceil(fallbackMs));
  return Math.max(1, at);
}

/** Dispatches before the queue of `queuedCount` has room for one more (1 when exactly full or no capacity is given). */
export function backoffDispatches(queuedCount: number, maxQueued: number | undefined): number {
  return maxQueued === undefined ? 1 : Math.max(1, queuedCount - maxQueued + 1);
}

/** The `Retry-After` header value: whole seconds, rounded up, at least 1 (RFC 9110 §10.2.3). */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

export interface ServicePriors {
  serviceMs: number;
  /** Per-stream decode speed. */
  tokensPerS: number;
  ttftMs: number;
  /** Share of max_tokens a completed task produced (stop strings and EOS end tasks early). */
  fill: number;
}

/** Used until a pool has measured itself; seed real values from config where they are known. */
export const DEFAULT_PRIORS: Readonly<ServicePriors> = { serviceMs: 1_000, tokensPerS: 50, ttftMs: 200, fill: 1 };

export interface ServiceObservation {
  /** Time the task held its slot. */
  serviceMs: number;
  tokens: number;
  ttftMs: number;
  /** Decode speed from the task's figures (src/core/task/figures.ts); 0 when unmeasurable. */
  tokensPerS: number;
  /** The task's max_tokens, when known: feeds `fill`. */
  maxTokens?: number;
}

/**
 * One pool's exponentially weighted averages. The prior counts as one observation, so early
 * samples replace it quickly (weight 1/(n+1)) before the weight settles at `alpha`.
 */
export class ServiceStats {
  readonly #alpha: number;
  readonly #avg: ServicePriors;
  readonly #samples = { serviceMs: 0, tokensPerS: 0, ttftMs: 0, fill: 0 };

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

  get fill(): number {
    return this.#avg.fill;
  }

  /**
   * A task that produced no token (failed or canceled before it) says nothing about speed and
   * is ignored; so is a non-finite or negative figure. Tokens/s needs two tokens to measure.
   */
  observe({ serviceMs, tokens, ttftMs, tokensPerS, maxTokens }: ServiceObservation): void {
    if (!(tokens >= 1)) return;
    this.#mix('serviceMs', serviceMs);
    this.#mix('ttftMs', ttftMs);
    if (maxTokens !== undefined && maxTokens >= tokens) this.#mix('fill', tokens / maxTokens);
    if (tokensPerS > 0) this.#mix('tokensPerS', tokensPerS);
  }

  #mix(key: keyof ServicePriors, value: number): void {
    if (!(Number.isFinite(value) && value >= 0)) return;
    const n = ++this.#samples[key];
    const weight = Math.max(this.#alpha, 1 / (n + 1));
    this.#avg[key] += weight * (value - this.#avg[key]);
  }
}

interface HeapSlot {
  atMs: number;
  group: SlotGroup;
  speed: number;
}

/** A binary min-heap of slots by the time they free. */
class SlotHeap {
  readonly #items: HeapSlot[] = [];

  push(item: HeapSlot): void {
    const a = this.#items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((a[parent] as HeapSlot).atMs <= item.atMs) break;
      a[i] = a[parent] as HeapSlot;
      i = parent;
    }
    a[i] = item;
  }

  pop(): HeapSlot | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined || a.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const r = l + 1;
      const child = r < a.length && (a[r] as HeapSlot).atMs < (a[l] as HeapSlot).atMs ? r : l;
      if ((a[child] as HeapSlot).atMs >= last.atMs) break;
      a[i] = a[child] as HeapSlot;
      i = child;
    }
    a[i] = last;
    return top;
  }
}

