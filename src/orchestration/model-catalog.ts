// The model catalog's shell (issue 13 item 8): gathers what the pools serve now and what their
// providers list (an adapter's optional `models()`), cached per pool for `model_discovery.ttl_ms`
// on the clock port, and hands both to core's pure `mergeCatalog`. A listing that fails or is
// slow adds nothing (the last good one is kept); it never fails the catalog.

import type { Logger } from 'pino';
import type { WorkerAdapter } from '../adapters/contract.ts';
import type { Config } from '../config/schema.ts';
import { mergeCatalog, type CatalogModel, type Listing, type ServedModel } from '../core/catalog/merge.ts';
import type { TimerClock } from '../core/ports.ts';
import type { Pool } from '../pool/pool.ts';
import type { PoolManager } from '../pool/pool-manager.ts';
import type { Task } from './task.ts';

export interface ModelCatalogDeps {
  /** The running configuration (a reload updates it in place). */
  config: Config;
  pools: PoolManager<Task>;
  clock: TimerClock;
  logger?: Logger;
}

/** Ids kept from one listing: a provider listing thousands of models must not bloat every answer. */
export const MAX_LISTED_IDS = 1_000;

interface CachedListing {
  atMono: number;
  ids: readonly string[];
  pending: Promise<void> | undefined;
}

type Lister = Required<Pick<WorkerAdapter, 'models'>>;

export class ModelCatalog {
  readonly #deps: ModelCatalogDeps;
  readonly #cache = new Map<string, CachedListing>();

  constructor(deps: ModelCatalogDeps) {
    this.#deps = deps;
  }

  /** The merged catalog: served ids, then catalog entries, then listed ids. */
  async list(): Promise<CatalogModel[]> {
    const { config, pools } = this.#deps;
    const live = pools.list().filter((p) => !p.retired);
    for (const id of this.#cache.keys()) if (!live.some((p) => p.id === id)) this.#cache.delete(id);
    const listings = config.model_discovery.enabled ? await Promise.all(live.map((p) => this.#listing(p))) : [];
    return mergeCatalog({
      served: live.flatMap(servedModels),
      entries: config.catalog,
      prices: config.pricing,
      listings: listings.filter((l): l is Listing => l !== undefined),
    });
  }

  async #listing(pool: Pool<Task>): Promise<Listing | undefined> {
    const lister = listerOf(pool);
    if (!lister) return undefined;
    const { clock, config } = this.#deps;
    let cached = this.#cache.get(pool.id);
    if (!cached) this.#cache.set(pool.id, (cached = { atMono: Number.NEGATIVE_INFINITY, ids: [], pending: undefined }));
    if (clock.monotonic() - cached.atMono >= config.model_discovery.ttl_ms) {
      // Concurrent readers share one call per pool.
      cached.pending ??= this.#refresh(pool.id, lister, cached);
      await cached.pending;
    }
    return { pool_id: pool.id, ids: cached.ids };
  }

  async #refresh(poolId: string, lister: Lister, cached: CachedListing): Promise<void> {
    const { clock, config, logger } = this.#deps;
    const ac = new AbortController();
    let timer: { cancel(): void } | undefined;
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = clock.setTimer(config.model_discovery.timeout_ms, () => {
        const err = new Error(`the model listing took longer than ${config.model_discovery.timeout_ms} ms`);
        ac.abort(err);
        reject(err);
      });
    });
    try {
      // The race also bounds an adapter that does not honour its signal.
      const ids = await Promise.race([lister.models(ac.signal), timedOut]);
      cached.ids = ids.filter((id) => typeof id === 'string' && id.length > 0).slice(0, MAX_LISTED_IDS);
    } catch (err) {
      logger?.warn({ err, pool_id: poolId }, 'model listing failed; the catalog keeps the last good one');
    } finally {
      timer?.cancel();
      cached.atMono = clock.monotonic();
      cached.pending = undefined;
    }
  }
}

/** The adapter to ask: a ready replica's when one can list, else any replica's that can. */
function listerOf(pool: Pool<Task>): Lister | undefined {
  const can = pool.replicas.filter((r) => r.adapter.models !== undefined);
  const replica = can.find((r) => r.state === 'ready') ?? can[0];
  const adapter = replica?.adapter;
  return adapter?.models ? { models: (signal) => adapter.models?.(signal) ?? Promise.resolve([]) } : undefined;
}

/** A pool's model and aliases, with the largest context a ready replica reports. */
export function servedModels(pool: Pool<Task>): ServedModel[] {
  const { config } = pool;
  const ctx = Math.max(0, ...pool.replicas.filter((r) => r.state === 'ready').map((r) => r.ctxMax));
  const base = { pool_id: pool.id, engine: config.engine, engine_model: config.engine_model ?? config.model, ...(ctx > 0 ? { context_length: ctx } : {}) };
  return [{ id: config.model, ...base }, ...config.aliases.map((alias) => ({ id: alias, alias_of: config.model, ...base }))];
}
