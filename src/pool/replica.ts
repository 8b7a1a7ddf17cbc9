// One engine replica as the gateway sees it: adapter, health state, slot accounting, breaker,
// overload backoff, discovered facts (engine version, ctx) and measured speed. Probing lives in
// prober.ts; choosing a replica lives in core/placement; the expected version is the pool's.

import type { WorkerAdapter } from '../adapters/contract.ts';
import type { PoolConfig, ReplicaConfig } from '../config/schema.ts';
import type { ReplicaState, ReplicaView } from '../core/placement/decide.ts';
import type { Clock } from '../core/ports.ts';
import { RunningTally, tallyKey } from '../core/admission/running-tally.ts';
import { redactCredentials } from '../core/redact.ts';
import { CircuitBreaker } from './breaker.ts';

export interface ReplicaStatus {
  id: string;
  url?: string;
  state: ReplicaState;
  engine_version?: string;
  ctx_max?: number;
  slots_total: number;
  slots_busy: number;
  breaker: 'closed' | 'open' | 'half_open';
  last_error?: string;
  labels: { accelerator?: 'nvidia' | 'cpu'; device_mask?: string; memory_bytes?: number };
}

/** What a lease tells the predictions about its task (issue 10 finding 9). */
export interface LeasedWork {
  readonly maxTokens: number;
  /** Tokens streamed so far, read live. */
  tokensOut(): number;
}

/** A held slot; `release` is idempotent. */
export interface Lease {
  /** The task's token count moved: the predictions' tally follows (after each engine read). */
  progressed(): void;
  release(): void;
}

/** A lease as its replica holds it: where its tally counts it (an object, no closure per lease). */
class SlotLease implements Lease {
  #started: boolean;
  #key: number;
  #held = true;

  readonly work: LeasedWork;
  private readonly holder: LeaseHolder;

  constructor(work: LeasedWork, holder: LeaseHolder) {
    this.work = work;
    this.holder = holder;
    const out = work.tokensOut();
    this.#started = out > 0;
    this.#key = tallyKey(work.maxTokens, out);
    holder.tally.add(this.#started, this.#key);
    holder.leases.add(this);
  }

  progressed(): void {
    if (!this.#held) return;
    const out = this.work.tokensOut();
    const started = out > 0;
    const key = tallyKey(this.work.maxTokens, out);
    if (started === this.#started && key === this.#key) return;
    this.holder.tally.remove(this.#started, this.#key);
    this.holder.tally.add(started, key);
    this.#started = started;
    this.#key = key;
  }

  release(): void {
    if (!this.#held) return;
    this.#held = false;
    this.holder.tally.remove(this.#started, this.#key);
    this.holder.leases.delete(this);
    this.holder.freed();
  }
}

/** What a replica shares with its leases. */
interface LeaseHolder {
  readonly tally: RunningTally;
  readonly leases: Set<SlotLease>;
  freed(): void;
}

/** The version a pool expects of its replicas, and why: a config pin, or what its peers run. */
export interface ExpectedVersion {
  version: string;
  source: 'pinned' | 'peers';
}

export class Replica {
  readonly id: string;
  readonly config: ReplicaConfig;
  readonly adapter: WorkerAdapter;
  readonly breaker: CircuitBreaker;
  state: ReplicaState = 'starting';
  slotsTotal: number;
  slotsBusy = 0;
  ctxMax = 0;
  engineVersion: string | undefined;
  /** Order in which replicas first reported a version (tie-break for `require_same_engine_version`). */
  versionSeq: number | undefined;
  lastError: string | undefined;
  tokensPerS: number | undefined;
  /** Set when a drain asked this replica to take no new work. */
  draining = false;
  /** Monotonic ms until which an overloaded engine is left alone. */
  exhaustedUntil = 0;
  /** Monotonic ms until which the provider's spent rate-limit budget keeps it out (issue 13 item 5). */
  rateLimitedUntil = 0;
  /** Set by the pool that owns this replica. */
  expectedVersion: () => ExpectedVersion | undefined = () => undefined;
  private retired: (() => void) | undefined;
  /** Its leases, and their tally for the predictions (Pool.predictStartMs). */
  readonly #holder: LeaseHolder = {
    tally: new RunningTally(),
    leases: new Set<SlotLease>(),
    freed: () => {
      this.slotsBusy--;
      if (this.slotsBusy === 0 && this.retired) this.retired();
    },
  };
  private readonly clock: Clock;

  constructor(opts: { pool: PoolConfig; config: ReplicaConfig; adapter: WorkerAdapter; clock: Clock; defaultSlots: number }) {
    this.id = opts.config.id;
    this.config = opts.config;
    this.adapter = opts.adapter;
    this.clock = opts.clock;
    this.slotsTotal = opts.config.slots ?? opts.defaultSlots;
    this.breaker = new CircuitBreaker({ failures: opts.pool.health.breaker_failures, openMs: opts.pool.health.breaker_open_ms });
  }

  get versionOk(): boolean {
    const expected = this.expectedVersion();
    return expected === undefined || this.engineVersion === undefined || this.engineVersion === expected.version;
  }

  get effectiveState(): ReplicaState {
    return this.draining && this.state === 'ready' ? 'draining' : this.state;
  }

  get exhausted(): boolean {
    return this.exhaustedUntil > this.clock.monotonic();
  }

  get exhaustedForMs(): number {
    return Math.max(0, this.exhaustedUntil - this.clock.monotonic());
  }

  /** Backing off only because the provider said its budget is spent (not an overload). */
  get rateLimited(): boolean {
    return this.rateLimitedUntil > this.clock.monotonic();
  }

  /** Time until an open breaker allows its half-open trial; 0 when it is not open. */
  get breakerOpenForMs(): number {
    return this.breaker.remainingOpenMs(this.clock.monotonic());
  }

  /** Could a task be leased here now, load aside? */
  get serviceable(): boolean {
    return this.effectiveState === 'ready' && this.versionOk && !this.exhausted && this.breaker.state(this.clock.monotonic()) !== 'open';
  }

  /**
   * Ready to be reported and to admit work: serviceable with a closed breaker. A half-open
   * replica may take its one trial (placement allows it) but is not ready until that succeeds.
   */
  get ready(): boolean {
    return this.serviceable && this.breaker.state(this.clock.monotonic()) === 'closed';
  }

  get hasFreeSlot(): boolean {
    return this.slotsBusy < this.slotsTotal;
  }

  /** Takes a slot for `work` until the returned lease is released. */
  lease(work: LeasedWork): Lease {
    this.slotsBusy++;
    const lease = new SlotLease(work, this.#holder);
    this.breaker.leased(this.clock.monotonic());
    return lease;
  }

  /** The work in this replica's slots now. */
  get running(): readonly LeasedWork[] {
    return Array.from(this.#holder.leases, (l) => l.work);
  }

  /** The running leases by expected finish, kept as they start, stream and end. */
  get tally(): RunningTally {
    return this.#holder.tally;
  }

  /** Keeps an overloaded engine out of placement for `ms`. */
  backOff(ms: number): void {
    this.exhaustedUntil = Math.max(this.exhaustedUntil, this.clock.monotonic() + ms);
  }

  /**
   * Heeds the provider's last rate-limit report (`WorkerAdapter.rateLimit()`): a spent budget
   * keeps the replica out of placement until the provider's reset, through the overload
   * back-off, so no request bound to fail is sent. Returns the wait, undefined when none.
   */
  heedRateLimit(): number | undefined {
    const resetAtMs = this.adapter.rateLimit?.()?.resetAtMs;
    if (resetAtMs === undefined) return undefined;
    const waitMs = Math.ceil(resetAtMs - this.clock.now());
    if (waitMs <= 0) return undefined;
    this.backOff(waitMs);
    this.rateLimitedUntil = Math.max(this.rateLimitedUntil, this.clock.monotonic() + waitMs);
    return waitMs;
  }

  /** Taken out of its pool (reload, removal): closes the adapter once its running work is done. */
  retire(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.retired = () => {
        this.retired = undefined;
        resolve();
      };
      if (this.slotsBusy === 0) this.retired();
    }).then(() => this.adapter.close());
  }

  view(): ReplicaView {
    return {
      id: this.id,
      state: this.effectiveState,
      breaker: this.breaker.state(this.clock.monotonic()),
      slotsTotal: this.slotsTotal,
      slotsBusy: this.slotsBusy,
      ctxMax: this.ctxMax,
      versionOk: this.versionOk,
      ...(this.exhausted ? { exhausted: true } : {}),
      accelerator: this.config.labels?.accelerator,
      tokensPerS: this.tokensPerS,
    };
  }

  /** Records a decode speed sample (EWMA) for the placement tie-break. */
  observeSpeed(tokensPerS: number): void {
    if (!Number.isFinite(tokensPerS) || tokensPerS <= 0) return;
    this.tokensPerS = this.tokensPerS === undefined ? tokensPerS : this.tokensPerS * 0.8 + tokensPerS * 0.2;
  }

  /**
   * What an operator sees: a version mismatch reads as unready, an open breaker as failed, a
   * half-open one as unready (its trial has not succeeded yet).
   */
  status(): ReplicaStatus {
    const labels = this.config.labels ?? {};
    const breaker = this.breaker.state(this.clock.monotonic());
    const mismatch = this.versionOk ? undefined : this.versionMismatch();
    let state = this.effectiveState;
    if (state === 'ready' && mismatch !== undefined) state = 'unready';
    else if (state === 'ready' && breaker === 'open') state = 'failed';
    else if (state === 'ready' && breaker === 'half_open') state = 'unready';
    const trial = breaker === 'half_open' ? 'circuit breaker half-open: waiting for a successful trial' : undefined;
    const lastError = mismatch ?? this.lastError ?? trial;
    return {
      id: this.id,
      ...(this.config.url ? { url: redactCredentials(this.config.url) } : {}),
      state,
      ...(this.engineVersion ? { engine_version: this.engineVersion } : {}),
      ...(this.ctxMax ? { ctx_max: this.ctxMax } : {}),
      slots_total: this.slotsTotal,
      slots_busy: this.slotsBusy,
      breaker,
      ...(lastError ? { last_error: redactCredentials(lastError) } : {}),
      labels,
    };
  }

  versionMismatch(): string | undefined {
    const expected = this.expectedVersion();
    if (expected === undefined || this.versionOk) return undefined;
    const which = expected.source === 'pinned' ? "the pool's pinned version" : 'the version its peers run';
    return `engine version ${this.engineVersion ?? 'unknown'} differs from ${which} ${expected.version}; kept out of placement`;
  }
}
