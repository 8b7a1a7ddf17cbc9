// Builds pools and replicas from config, runs one health prober per replica, resolves a
// client's model (name or alias, optional engine constraint) to a pool, and tells the
// dispatcher when capacity may have appeared.

import type { Logger } from 'pino';
import { createAdapter, DEFAULT_SLOTS } from '../adapters/registry.ts';
import type { PoolConfig } from '../config/schema.ts';
import type { Clock } from '../core/ports.ts';
import type { QueueEntry } from '../core/queue/fair-queue.ts';
import { Pool } from './pool.ts';
import { startProber, type Prober } from './prober.ts';
import { Replica } from './replica.ts';

export interface PoolManagerDeps {
  clock: Clock;
  logger: Logger;
  /** Called when a pool may have gained capacity (replica became ready, slot freed). */
  onCapacity: (pool: Pool) => void;
}

export class PoolManager<T extends QueueEntry = QueueEntry> {
  readonly pools = new Map<string, Pool<T>>();
  private readonly probers = new Map<string, Prober>();
  private readonly deps: PoolManagerDeps;

  constructor(configs: readonly PoolConfig[], deps: PoolManagerDeps) {
    this.deps = deps;
    for (const config of configs) this.pools.set(config.id, this.build(config));
  }

  /** Resolves a client-facing model name or alias; `engine` narrows the match. */
  resolve(model: string, engine?: string): Pool<T> | undefined {
    for (const pool of this.pools.values()) {
      if (engine !== undefined && pool.config.engine !== engine) continue;
      if (pool.config.model === model || pool.config.aliases.includes(model)) return pool;
    }
    return undefined;
  }

  get(id: string): Pool<T> | undefined {
    return this.pools.get(id);
  }

  list(): Pool<T>[] {
    return [...this.pools.values()];
  }

  /** Probes every replica once, now (start-up, reload). */
  async probeAll(): Promise<void> {
    await Promise.all([...this.probers.values()].map((p) => p.probeNow()));
  }

  async close(): Promise<void> {
    for (const prober of this.probers.values()) prober.stop();
    this.probers.clear();
    await Promise.all(this.list().flatMap((pool) => pool.replicas.map((r) => r.adapter.close())));
  }

  private build(config: PoolConfig): Pool<T> {
    const replicas = config.replicas.map(
      (rc) =>
        new Replica({
          pool: config,
          config: rc,
          adapter: createAdapter(config, rc),
          clock: this.deps.clock,
          defaultSlots: DEFAULT_SLOTS[config.engine],
        }),
    );
    const pool = new Pool<T>(config, replicas);
    for (const replica of replicas) {
      const prober = startProber(replica, {
        intervalMs: config.health.interval_ms,
        maxBackoffMs: config.health.max_backoff_ms,
        timeoutMs: Math.max(config.timeouts.connect_ms, 1_000),
        logger: this.deps.logger.child({ pool_id: config.id }),
        onChange: () => this.deps.onCapacity(pool),
      });
      this.probers.set(`${config.id}/${replica.id}`, prober);
    }
    return pool;
  }
}
