// A pool: replicas of one model on one engine kind, its fair queue and its service statistics.
// Owns no timers itself; probers and the dispatcher act on it.

import type { PoolConfig } from '../config/schema.ts';
import { ServiceStats } from '../core/admission/predict.ts';
import type { ReplicaView } from '../core/placement/decide.ts';
import { FairQueue, type QueueEntry } from '../core/queue/fair-queue.ts';
import type { Replica, ReplicaStatus } from './replica.ts';

export interface PoolStatus {
  id: string;
  engine: string;
  model: string;
  aliases: string[];
  live: boolean;
  ready: boolean;
  draining: boolean;
  engine_version?: string;
  slots: { total: number; busy: number };
  queue: { depth: number; interactive: number; batch: number; max_queued: number; policy: 'reject' | 'drop-lru' };
  last_error?: string;
}

export class Pool<T extends QueueEntry = QueueEntry> {
  readonly id: string;
  config: PoolConfig;
  replicas: Replica[];
  readonly queue: FairQueue<T>;
  readonly stats: ServiceStats;
  /** Tasks that failed before their first token and wait to be re-placed ahead of the queue. */
  readonly retry: T[] = [];
  drainDeadline: number | undefined;

  constructor(config: PoolConfig, replicas: Replica[]) {
    this.id = config.id;
    this.config = config;
    this.replicas = replicas;
    this.queue = new FairQueue<T>(queueOptions(config));
    this.stats = new ServiceStats({ priors: priorsFrom(config) });
  }

  get draining(): boolean {
    return this.drainDeadline !== undefined;
  }

  get ready(): boolean {
    return !this.draining && this.replicas.some((r) => r.effectiveState === 'ready');
  }

  /** Could work ever start here without operator action (some replica ready or coming up)? */
  get live(): boolean {
    return this.replicas.some((r) => r.state !== 'failed');
  }

  get slotsTotal(): number {
    let n = 0;
    for (const r of this.replicas) if (r.effectiveState === 'ready') n += r.slotsTotal;
    return n;
  }

  get slotsBusy(): number {
    let n = 0;
    for (const r of this.replicas) n += r.slotsBusy;
    return n;
  }

  replica(id: string): Replica | undefined {
    return this.replicas.find((r) => r.id === id);
  }

  views(): ReplicaView[] {
    return this.replicas.map((r) => r.view());
  }

  status(): PoolStatus {
    const versions = new Set(this.replicas.map((r) => r.engineVersion).filter((v) => v !== undefined));
    const lastError = this.replicas.find((r) => r.lastError)?.lastError;
    return {
      id: this.id,
      engine: this.config.engine,
      model: this.config.model,
      aliases: this.config.aliases,
      live: this.live,
      ready: this.ready,
      draining: this.draining,
      ...(versions.size === 1 ? { engine_version: [...versions][0] as string } : {}),
      slots: { total: this.slotsTotal, busy: this.slotsBusy },
      queue: {
        depth: this.queue.size,
        interactive: this.queue.sizeOf('interactive'),
        batch: this.queue.sizeOf('batch'),
        max_queued: this.config.queue.max_queued,
        policy: this.config.queue.policy,
      },
      ...(lastError ? { last_error: lastError } : {}),
    };
  }

  replicaStatuses(): ReplicaStatus[] {
    return this.replicas.map((r) => r.status());
  }
}

/** Speed expectations before anything was measured: the mock's configured speed, else defaults. */
function priorsFrom(config: PoolConfig) {
  const mock = config.replicas[0]?.mock;
  if (config.engine !== 'mock') return {};
  const tokensPerS = mock?.tokens_per_s ?? 200;
  const ttftMs = mock?.first_token_delay_ms ?? 20;
  return { tokensPerS, ttftMs, serviceMs: ttftMs + (256 * 1000) / tokensPerS };
}

export function queueOptions(config: PoolConfig) {
  return {
    maxQueued: config.queue.max_queued,
    policy: config.queue.policy,
    interactiveWeight: config.queue.interactive_weight,
    batchWeight: config.queue.batch_weight,
  };
}
