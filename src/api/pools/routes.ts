// Control-plane pool reads: list, detail with replicas, capabilities from discovered facts.
// The actions (drain, reload, config reload) live in src/api/control/.

import type { FastifyInstance } from 'fastify';
import { orchError } from '../../core/errors.ts';
import type { Task } from '../../orchestration/task.ts';
import type { PoolManager } from '../../pool/pool-manager.ts';
import { sendError } from '../errors.ts';
import { operation } from '../operation.ts';

export interface PoolRoutesDeps {
  pools: PoolManager<Task>;
}

export async function poolRoutes(app: FastifyInstance, deps: PoolRoutesDeps): Promise<void> {
  app.route({
    ...operation('listPools', 'control'),
    handler: async () => ({ pools: deps.pools.list().map((p) => p.status()) }),
  });

  app.route<{ Params: { pool_id: string } }>({
    ...operation('getPool', 'control'),
    handler: async (req, reply) => {
      const pool = deps.pools.get(req.params.pool_id);
      if (!pool) return sendError(reply, orchError('NOT_FOUND', `unknown pool ${req.params.pool_id}`, { field: 'pool_id' }));
      return { ...pool.status(), replicas: pool.replicaStatuses() };
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
