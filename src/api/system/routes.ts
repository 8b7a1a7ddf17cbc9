// Public system routes: liveness, readiness (some pool ready), the merged OpenAPI document.

import type { FastifyInstance } from 'fastify';
import openapi from '../../generated/openapi.json' with { type: 'json' };
import type { Task } from '../../orchestration/task.ts';
import type { PoolManager } from '../../pool/pool-manager.ts';
import { operation } from '../operation.ts';

export async function systemRoutes(app: FastifyInstance, deps: { pools: PoolManager<Task> }): Promise<void> {
  app.route({ ...operation('getHealthz', 'public'), handler: async () => ({ status: 'ok' }) });

  app.route({
    ...operation('getReadyz', 'public'),
    handler: async (_req, reply) => {
      const pools: Record<string, boolean> = {};
      for (const pool of deps.pools.list()) pools[pool.id] = pool.ready;
      const ready = Object.values(pools).some(Boolean);
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unready', pools });
    },
  });

  app.route({ ...operation('getOpenapi', 'public'), handler: async () => openapi });
}
