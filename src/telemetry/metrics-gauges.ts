// Gauges read from a TelemetrySnapshot at scrape time: queue depth, replica health, slots,
// breaker, engine info, engine-scraped load, open streams and retained task bytes. Nothing here runs per request.

import { Gauge, type Registry } from 'prom-client';
import { BREAKER_STATE_VALUE, REPLICA_STATES, type TelemetrySnapshot } from './snapshot.ts';

/**
 * Every gauge's collect() asks for the snapshot; one scrape collects all metrics in the same
 * synchronous pass, so the first call takes the snapshot and the rest of that pass reuse it.
 */
function oncePerScrape(take: () => TelemetrySnapshot): () => TelemetrySnapshot {
  let cached: TelemetrySnapshot | undefined;
  return () => {
    if (cached === undefined) {
      cached = take();
      queueMicrotask(() => {
        cached = undefined;
      });
    }
    return cached;
  };
}

type Fill = (gauge: Gauge, snapshot: TelemetrySnapshot) => void;

interface GaugeSpec {
  name: string;
  help: string;
  labelNames: string[];
  fill: Fill;
}

const perReplica = (value: (r: TelemetrySnapshot['pools'][number]['replicas'][number]) => number | undefined): Fill => (gauge, s) => {
  for (const pool of s.pools) {
    for (const replica of pool.replicas) {
      const v = value(replica);
      if (v !== undefined && Number.isFinite(v)) gauge.set({ pool: pool.pool_id, replica: replica.replica_id }, v);
    }
  }
};

const GAUGES: readonly GaugeSpec[] = [
  {
    name: 'orchqueue_queue_depth',
    help: 'Tasks waiting in the queue, by pool and priority class.',
    labelNames: ['pool', 'priority'],
    fill: (gauge, s) => {
      for (const pool of s.pools) {
        gauge.set({ pool: pool.pool_id, priority: 'interactive' }, pool.queue.interactive);
        gauge.set({ pool: pool.pool_id, priority: 'batch' }, pool.queue.batch);
      }
    },
  },
  {
    name: 'orchqueue_replica_up',
    help: '1 when the replica is ready to take new work, else 0.',
    labelNames: ['pool', 'replica'],
    fill: perReplica((r) => (r.state === 'ready' ? 1 : 0)),
  },
  {
    name: 'orchqueue_replica_state',
    help: 'Replica lifecycle state: 1 for the current state, 0 for the others.',
    labelNames: ['pool', 'replica', 'state'],
    fill: (gauge, s) => {
      for (const pool of s.pools) {
        for (const replica of pool.replicas) {
          for (const state of REPLICA_STATES) {
            gauge.set({ pool: pool.pool_id, replica: replica.replica_id, state }, replica.state === state ? 1 : 0);
          }
        }
      }
    },
  },
  {
    name: 'orchqueue_replica_slots_capacity',
    help: 'Concurrent generation slots the replica offers.',
    labelNames: ['pool', 'replica'],
    fill: perReplica((r) => r.slots_total),
  },
  {
    name: 'orchqueue_replica_slots_busy',
    help: 'Slots currently leased to running tasks.',
    labelNames: ['pool', 'replica'],
    fill: perReplica((r) => r.slots_busy),
  },
  {
    name: 'orchqueue_replica_breaker_state',
    help: 'Circuit breaker state of the replica: 0 closed, 1 half-open, 2 open.',
    labelNames: ['pool', 'replica'],
    fill: perReplica((r) => BREAKER_STATE_VALUE[r.breaker]),
  },
  {
    name: 'orchqueue_engine_info',
    help: 'Engine kind and version each replica reports; always 1.',
    labelNames: ['pool', 'replica', 'engine', 'engine_version'],
    fill: (gauge, s) => {
      for (const pool of s.pools) {
        for (const r of pool.replicas) {
          gauge.set({ pool: pool.pool_id, replica: r.replica_id, engine: pool.engine, engine_version: r.engine_version ?? 'unknown' }, 1);
        }
      }
    },
  },
  {
    name: 'orchqueue_engine_kv_cache_usage_ratio',
    help: 'KV cache usage the engine itself reports (0-1), when engine metrics are scraped.',
    labelNames: ['pool', 'replica'],
    fill: perReplica((r) => r.engine_metrics?.kv_cache_usage_ratio),
  },
  {
    name: 'orchqueue_engine_requests_waiting',
    help: 'Requests waiting inside the engine, when engine metrics are scraped.',
    labelNames: ['pool', 'replica'],
    fill: perReplica((r) => r.engine_metrics?.requests_waiting),
  },
  {
    name: 'orchqueue_engine_requests_running',
    help: 'Requests the engine is running, when engine metrics are scraped.',
    labelNames: ['pool', 'replica'],
    fill: perReplica((r) => r.engine_metrics?.requests_running),
  },
  {
    name: 'orchqueue_sse_streams_open',
    help: 'SSE streams currently open to clients.',
    labelNames: [],
    fill: (gauge, s) => gauge.set(s.open_streams),
  },
  {
    name: 'orchqueue_retained_task_bytes',
    help: 'Estimated heap bytes held by finished tasks kept readable for retention.',
    labelNames: [],
    fill: (gauge, s) => gauge.set(s.retained_task_bytes),
  },
];

/** Registers the snapshot gauges; each one clears and refills itself on every scrape. */
export function registerSnapshotGauges(registry: Registry, snapshot: () => TelemetrySnapshot): void {
  const current = oncePerScrape(snapshot);
  for (const spec of GAUGES) {
    new Gauge({
      name: spec.name,
      help: spec.help,
      labelNames: spec.labelNames,
      registers: [registry],
      collect() {
        // Replicas and pools come and go (reload); stale label sets must not linger.
        this.reset();
        spec.fill(this, current());
      },
    });
  }
}
