// Reads every replica's own Prometheus `/metrics` on one timer (telemetry.scrape_engine_metrics)
// and keeps the last good numbers per replica for the metrics snapshot. Never on the request
// path: readers get a map lookup; a slow or failing engine only loses its own entry.

import type { Logger } from 'pino';
import type { WorkerAdapter } from '../adapters/contract.ts';
import { parseEngineMetrics } from './engine-scrape.ts';
import type { EngineMetrics } from './snapshot.ts';

export interface ScrapeTarget {
  id: string;
  replicas: ReadonlyArray<{ id: string; adapter: Pick<WorkerAdapter, 'metricsText'> }>;
}

export interface EngineScraperOptions {
  /** Read at every round, so added, reloaded and removed replicas are followed. */
  pools: () => Iterable<ScrapeTarget>;
  intervalMs: number;
  /** Budget of one replica's scrape. */
  timeoutMs: number;
  logger: Pick<Logger, 'debug'>;
}

export interface EngineScraper {
  /** The replica's numbers from the last round, undefined when it has none (or failed). */
  of(poolId: string, replicaId: string): EngineMetrics | undefined;
  /** Runs a round now, or waits for the one under way (tests, and the first read after start). */
  refresh(): Promise<void>;
  /** Stops the timer and aborts scrapes under way; `of` then answers undefined. */
  stop(): void;
}

/** One round per probe interval of the busiest-probed pool, but never more than once a second. */
export function engineScrapeIntervalMs(pools: ReadonlyArray<{ health: { interval_ms: number } }>): number {
  const fastest = Math.min(...pools.map((p) => p.health.interval_ms));
  return Number.isFinite(fastest) ? Math.max(1_000, fastest) : 5_000;
}

export function startEngineScraper(opts: EngineScraperOptions): EngineScraper {
  const stopper = new AbortController();
  let latest = new Map<string, EngineMetrics>();
  let round: Promise<void> | undefined;

  const scrapeOne = async (poolId: string, replicaId: string, adapter: Pick<WorkerAdapter, 'metricsText'>): Promise<EngineMetrics | undefined> => {
    if (adapter.metricsText === undefined) return undefined;
    const signal = AbortSignal.any([stopper.signal, AbortSignal.timeout(opts.timeoutMs)]);
    try {
      const text = await adapter.metricsText(signal);
      if (text === undefined) return undefined;
      const metrics = parseEngineMetrics(text);
      return Object.keys(metrics).length === 0 ? undefined : metrics;
    } catch (err) {
      if (!stopper.signal.aborted) opts.logger.debug({ err, pool_id: poolId, replica_id: replicaId }, 'engine metrics scrape failed');
      return undefined;
    }
  };

  // The round builds a fresh map: failed and removed replicas simply have no entry in it.
  const runRound = async (): Promise<void> => {
    const next = new Map<string, EngineMetrics>();
    const scrapes: Promise<void>[] = [];
    for (const pool of opts.pools()) {
      for (const replica of pool.replicas) {
        scrapes.push(scrapeOne(pool.id, replica.id, replica.adapter).then((m) => void (m && next.set(keyOf(pool.id, replica.id), m))));
      }
    }
    await Promise.all(scrapes);
    if (!stopper.signal.aborted) latest = next;
  };

  const refresh = (): Promise<void> => {
    if (stopper.signal.aborted) return Promise.resolve();
    // A round still running when the timer fires is not doubled: engines get one scrape at a time.
    round ??= runRound()
      .catch((err: unknown) => opts.logger.debug({ err }, 'engine metrics round failed'))
      .finally(() => (round = undefined));
    return round;
  };

  const timer = setInterval(() => void refresh(), opts.intervalMs);
  timer.unref();
  void refresh();

  return {
    of: (poolId, replicaId) => latest.get(keyOf(poolId, replicaId)),
    refresh,
    stop() {
      clearInterval(timer);
      stopper.abort();
      latest = new Map();
    },
  };
}

function keyOf(poolId: string, replicaId: string): string {
  return `${poolId}\u0000${replicaId}`;
}
