// One engine replica as the gateway sees it: adapter, health state, slot accounting, breaker,
// discovered facts (engine version, ctx) and measured speed. Probing lives in prober.ts;
// choosing a replica lives in core/placement.

import type { Logger } from 'pino';
import type { WorkerAdapter } from '../adapters/contract.ts';
import type { PoolConfig, ReplicaConfig } from '../config/schema.ts';
import type { ReplicaState, ReplicaView } from '../core/placement/decide.ts';
import type { Clock } from '../core/ports.ts';
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
  lastError: string | undefined;
  tokensPerS: number | undefined;
  /** Set when a drain asked this replica to take no new work. */
  draining = false;
  private readonly pinnedVersion: string | undefined;
  private readonly clock: Clock;

  constructor(opts: { pool: PoolConfig; config: ReplicaConfig; adapter: WorkerAdapter; clock: Clock; defaultSlots: number }) {
    this.id = opts.config.id;
    this.config = opts.config;
    this.adapter = opts.adapter;
    this.clock = opts.clock;
    this.slotsTotal = opts.config.slots ?? opts.defaultSlots;
    this.pinnedVersion = opts.pool.engine_version;
    this.breaker = new CircuitBreaker({ failures: opts.pool.health.breaker_failures, openMs: opts.pool.health.breaker_open_ms });
  }

  get versionOk(): boolean {
    return this.pinnedVersion === undefined || this.engineVersion === undefined || this.engineVersion === this.pinnedVersion;
  }

  get effectiveState(): ReplicaState {
    return this.draining && this.state === 'ready' ? 'draining' : this.state;
  }

  get hasFreeSlot(): boolean {
    return this.slotsBusy < this.slotsTotal;
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
      accelerator: this.config.labels?.accelerator,
      tokensPerS: this.tokensPerS,
    };
  }

  /** Records a decode speed sample (EWMA) for the placement tie-break. */
  observeSpeed(tokensPerS: number): void {
    if (!Number.isFinite(tokensPerS) || tokensPerS <= 0) return;
    this.tokensPerS = this.tokensPerS === undefined ? tokensPerS : this.tokensPerS * 0.8 + tokensPerS * 0.2;
  }

  status(): ReplicaStatus {
    const labels = this.config.labels ?? {};
    return {
      id: this.id,
      ...(this.config.url ? { url: this.config.url } : {}),
      state: this.effectiveState,
      ...(this.engineVersion ? { engine_version: this.engineVersion } : {}),
      ...(this.ctxMax ? { ctx_max: this.ctxMax } : {}),
      slots_total: this.slotsTotal,
      slots_busy: this.slotsBusy,
      breaker: this.breaker.state(this.clock.monotonic()),
      ...(this.lastError ? { last_error: this.lastError } : {}),
      labels,
    };
  }

  logFields(logger: Logger): Logger {
    return logger.child({ replica_id: this.id });
  }
}
