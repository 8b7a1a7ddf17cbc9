// Control-plane actions (ORCH-0507..0509): drain a pool, reload a pool's replicas, reload the
// configuration. Thin: the pool manager and the config reloader decide; every accepted or
// refused action is told to the observers with its actor, for the audit trail and the logs.
// With the redis backend (`peers`), an action applied here is then sent to every other live
// gateway replica and the answer lists each one's ack (`gateway_replicas`).

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Result } from '../../core/errors.ts';
import type { ControlFact, LifecycleObserver } from '../../core/observer.ts';
import type { Task } from '../../orchestration/task.ts';
import type { PoolManager } from '../../pool/pool-manager.ts';
import { actorOf } from '../auth.ts';
import { sendError } from '../errors.ts';
import { operation } from '../operation.ts';

export interface ControlRoutesDeps {
  pools: PoolManager<Task>;
  observer: LifecycleObserver;
  reloadConfig: (actor: string, correlationId: string) => Promise<Result<{ pools: string[] }>>;
  /** Sends an action applied here to every other gateway replica; each replica's ack, this one's first. */
  peers?: (command: PeerCommand) => Promise<GatewayReplicaAck[]>;
}

type PeerCommand = { kind: 'drain'; pool_id: string; deadline_ms: number } | { kind: 'reload_pool'; pool_id: string } | { kind: 'reload' };

interface GatewayReplicaAck {
  replica_id: string;
  ok: boolean;
  code?: string;
  message?: string;
}

type ByPool = { Params: { pool_id: string } };

function fact(req: FastifyRequest, action: ControlFact['action'], target: string, outcome: ControlFact['outcome'], detail?: Record<string, unknown>): ControlFact {
  return { action, actor: actorOf(req), target, outcome, correlation_id: String(req.id), ...(detail ? { detail } : {}) };
}

export async function controlRoutes(app: FastifyInstance, deps: ControlRoutesDeps): Promise<void> {
  const { pools, observer } = deps;
  const peerAcks = async (command: PeerCommand) => (deps.peers ? { gateway_replicas: await deps.peers(command) } : {});

  app.route<ByPool & { Body: { deadline_ms: number } }>({
    ...operation('drainPool', 'control'),
    handler: async (req, reply) => {
      const { pool_id } = req.params;
      const drained = pools.drain(pool_id, req.body.deadline_ms);
      if (!drained.ok) return sendError(reply, drained.error);
      observer.control?.(fact(req, 'drain', pool_id, 'accepted', { deadline_ms: req.body.deadline_ms }));
      const acks = await peerAcks({ kind: 'drain', pool_id, deadline_ms: req.body.deadline_ms });
      return reply.code(202).send({ pool_id, draining: true, deadline_at: new Date(drained.value.deadlineAt).toISOString(), ...acks });
    },
  });

  app.route<ByPool>({
    ...operation('reloadPool', 'control'),
    handler: async (req, reply) => {
      const { pool_id } = req.params;
      const reloaded = await pools.reload(pool_id);
      if (!reloaded.ok) {
        if (reloaded.error.code === 'NOT_FOUND') return sendError(reply, reloaded.error);
        observer.control?.(fact(req, 'reload', pool_id, 'refused', { code: reloaded.error.code, message: reloaded.error.message }));
        return sendError(reply, reloaded.error);
      }
      observer.control?.(fact(req, 'reload', pool_id, 'done'));
      const pool = reloaded.value;
      const acks = await peerAcks({ kind: 'reload_pool', pool_id });
      return { ...pool.status(), replicas: pool.replicaStatuses(), ...acks };
    },
  });

  app.route({
    ...operation('reloadConfig', 'control'),
    handler: async (req, reply) => {
      const reloaded = await deps.reloadConfig(actorOf(req), String(req.id));
      if (!reloaded.ok) return sendError(reply, reloaded.error);
      return { reloaded: true, pools: reloaded.value.pools, ...(await peerAcks({ kind: 'reload' })) };
    },
  });
}
