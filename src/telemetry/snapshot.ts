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
}

export const REPLICA_STATES: readonly ReplicaStateName[] = ['starting', 'ready', 'draining', 'unready', 'failed'];

/** Numeric encoding of the breaker for `orchqueue_replica_breaker_state` (documented in docs/metrics.md). */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerStateName, number>> = { closed: 0, half_open: 1, open: 2 };
