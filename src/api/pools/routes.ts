// Control-plane pool reads: list, detail with replicas, capabilities from discovered facts.
// The actions (drain, reload, config reload) live in src/api/control/.

import type { FastifyInstance } from 'fastify';
import { orchError } from '../../core/errors.ts';
import type { Task } from '../../orchestration/task.ts';
import type { PoolManager } from '../../pool/pool-manager.ts';
import type { ClusterFiguresSource } from '../../state/redis/cluster-figures.ts';
import { sendError } from '../errors.ts';
import { operation } from '../operation.ts';
import { poolClusterStatus, type PoolCluster } from './cluster-status.ts';

export interface PoolRoutesDeps {
  pools: PoolManager<Task>;
  /** The redis backend's cluster-wide figures; absent in memory mode (no `cluster` field). */
  cluster?: ClusterFiguresSource;
}

export async function poolRoutes(app: FastifyInstance, deps: PoolRoutesDeps): Promise<void> {
  const { cluster } = deps;
  /** The `cluster` field of each listed pool, or nothing in memory mode. */
  const clusterOf = async (): Promise<(poolId: string) => { cluster?: PoolCluster }> => {
    if (cluster === undefined) return () => ({});
    const read = await cluster.read();
    return (poolId) => ({ cluster: poolClusterStatus(read, poolId, cluster.gatewayReplica) });
  };

  app.route({
    ...operation('listPools', 'control'),
    handler: async () => {
      const withCluster = await clusterOf();
      return { pools: deps.pools.list().map((p) => ({ ...p.status(), ...withCluster(p.id) })) };
    },
  });

  app.route<{ Params: { pool_id: string } }>({
    ...operation('getPool', 'control'),
    handler: async (req, reply) => {
      const pool = deps.pools.get(req.params.pool_id);
      if (!pool) return sendError(reply, orchError('NOT_FOUND', `unknown pool ${req.params.pool_id}`, { field: 'pool_id' }));
      const withCluster = await clusterOf();
      return { ...pool.status(), ...withCluster(pool.id), replicas: pool.replicaStatuses() };
    },
  });

  app.route({
    ...operation('getCapabilities', 'control'),
    handler: async () => ({
      api_version: '1',
      pools: deps.pools.list().map((pool) => {
        // Facts from replicas that reported them and run the version the pool expects.
        const ready = pool.replicas.filter((r) => r.ctxMax > 0 && r.versionOk);
        return {
          id: pool.id,
          engine: pool.config.engine,
          model: pool.config.model,
          aliases: pool.config.aliases,
          ctx_max: Math.max(0, ...ready.map((r) => r.ctxMax)),
          deterministic: pool.replicas.every((r) => r.adapter.capabilities.deterministic),
          workloads: ['generate'],
          accelerators: [...new Set(pool.replicas.map((r) => r.config.labels?.accelerator ?? 'cpu'))].sort(),
        };
      }),
    }),
  });
}
