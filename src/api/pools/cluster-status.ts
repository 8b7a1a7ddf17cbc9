// A pool's `cluster` field in /v1/pools (redis backend only): the shared queue and engine slots
// across every gateway replica, from a cached ClusterFiguresSource read; `available: false`
// instead of an error while Redis cannot be read (the route still answers with local figures).

import type { components } from '../../generated/api-types.ts';
import type { ClusterFiguresRead } from '../../state/redis/cluster-figures.ts';

export type PoolCluster = components['schemas']['PoolCluster'];

export function poolClusterStatus(read: ClusterFiguresRead, poolId: string, gatewayReplica: string): PoolCluster {
  if (!read.available) return { available: false, gateway_replica: gatewayReplica };
  const pool = read.figures.pools.get(poolId);
  const capacity = pool?.capacity ?? {};
  const busy = pool?.busy ?? {};
  const replicaIds = [...new Set([...Object.keys(capacity), ...Object.keys(busy)])].sort();
  const replicas = replicaIds.map((replica_id) => ({ replica_id, slots_total: capacity[replica_id] ?? 0, slots_busy: busy[replica_id] ?? 0 }));
  const interactive = pool?.queue.interactive ?? 0;
  const batch = pool?.queue.batch ?? 0;
  return {
    available: true,
    gateway_replica: gatewayReplica,
    read_at: new Date(read.readAtMs).toISOString(),
    queue: { depth: interactive + batch, interactive, batch },
    slots: { total: sum(replicas.map((r) => r.slots_total)), busy: sum(replicas.map((r) => r.slots_busy)) },
    replicas,
    gateway_replicas_live: read.figures.gatewayReplicasLive,
  };
}

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
