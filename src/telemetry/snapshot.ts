// The point-in-time view metrics read at scrape time. The composition root builds one from the
// pools, queues and stream registry on demand; telemetry only reads it, never keeps it.

export type ReplicaStateName = 'starting' | 'ready' | 'draining' | 'unready' | 'failed';
export type BreakerStateName = 'closed' | 'open' | 'half_open';

/** Key engine-side numbers scraped from a replica's own `/metrics` (see engine-scrape.ts). */
export interface EngineMetrics {
  kv_cache_usage_ratio?: number;
  requests_waiting?: number;
  requests_running?: number;
}

export interface ReplicaSnapshot {
  replica_id: string;
  state: ReplicaStateName;
  engine_version?: string;
  slots_total: number;
  slots_busy: number;
  breaker: BreakerStateName;
  engine_metrics?: EngineMetrics;
}

export interface PoolSnapshot {
  pool_id: string;
  engine: string;
  queue: { interactive: number; batch: number };
  replicas: ReplicaSnapshot[];
}

export interface TelemetrySnapshot {
  pools: PoolSnapshot[];
  open_streams: number;
  /** Estimated heap bytes of finished tasks held for retention. */
  retained_task_bytes: number;
}

export const REPLICA_STATES: readonly ReplicaStateName[] = ['starting', 'ready', 'draining', 'unready', 'failed'];

/** Numeric encoding of the breaker for `orchqueue_replica_breaker_state` (documented in docs/metrics.md). */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerStateName, number>> = { closed: 0, half_open: 1, open: 2 };

/** What a pool must offer to be snapshotted (src/pool/pool.ts fits it structurally). */
export interface SnapshotSource {
  status(): { id: string; engine: string; queue: { interactive: number; batch: number } };
  replicaStatuses(): ReadonlyArray<Omit<ReplicaSnapshot, 'replica_id' | 'engine_metrics'> & { id: string }>;
}

/** Builds the scrape-time snapshot; `engineMetricsOf` supplies the last engine scrape per replica. */
export function buildSnapshot(
  pools: Iterable<SnapshotSource>,
  gateway: { openStreams: number; retainedTaskBytes: number },
  engineMetricsOf?: (poolId: string, replicaId: string) => EngineMetrics | undefined,
): TelemetrySnapshot {
  const out: PoolSnapshot[] = [];
  for (const pool of pools) {
    const status = pool.status();
    out.push({
      pool_id: status.id,
      engine: status.engine,
      queue: { interactive: status.queue.interactive, batch: status.queue.batch },
      replicas: pool.replicaStatuses().map((r) => {
        const engine_metrics = engineMetricsOf?.(status.id, r.id);
        return {
          replica_id: r.id,
          state: r.state,
          ...(r.engine_version !== undefined && { engine_version: r.engine_version }),
          slots_total: r.slots_total,
          slots_busy: r.slots_busy,
          breaker: r.breaker,
          ...(engine_metrics !== undefined && { engine_metrics }),
        };
      }),
    });
  }
  return { pools: out, open_streams: gateway.openStreams, retained_task_bytes: gateway.retainedTaskBytes };
}
