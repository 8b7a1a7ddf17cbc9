// One replica's membership of the cluster (state.backend redis): its lease (acquired at start,
// renewed; on LEASE_LOST it ends the tasks it runs, stops admitting and claiming and rejoins as a
// new incarnation), the sweep that takes over replicas whose lease expired (their running tasks
// get one terminal WORKER_RESET naming them and an audit row; their queued tasks stay queued for
// anyone; the runners of tasks its readers followed hear those readers left), and the control bus (cancel reaches the replica that owns a task; drain and reload reach every live
// replica, cluster-control.ts).

import type { Logger } from 'pino';
import type { LifecycleObserver } from '../../core/observer.ts';
import type { IdSource, TimerClock } from '../../core/ports.ts';
import { ControlBus, type ControlHandler } from '../../state/redis/control-bus.ts';
import { endLostReplicaTasks } from '../../state/redis/lost-replica.ts';
import { ReaderCount } from '../../state/redis/reader-count.ts';
import { ReplicaLease } from '../../state/redis/replica-lease.ts';
import type { StateError } from '../../state/state-errors.ts';
import { applyForwarded, broadcastControl, type BroadcastCommand, type ControlActions, type ReplicaAck } from './cluster-control.ts';
import { TASK_BACKSTOP_MS, type ClusterState } from './cluster-state.ts';
import type { ClusterTaskService } from './cluster-task-service.ts';
import { parseSpec, specFacts } from './task-spec.ts';

export interface MembershipDeps {
  cluster: ClusterState;
  tasks: ClusterTaskService;
  clock: TimerClock;
  ids: IdSource;
  logger: Logger;
  observer: LifecycleObserver;
  leaseMs: number;
  /** What a drain or reload forwarded by another replica does here. */
  control: ControlActions;
}

export interface Membership {
  /** Ends this replica's membership: stops renewing and removes the lease (nobody takes over), unsubscribes. */
  leave(): Promise<void>;
  /** Sends a drain or reload (already applied here) to every other live replica; their acks, this replica's first. */
  broadcast(command: BroadcastCommand): Promise<ReplicaAck[]>;
}

export async function joinCluster(deps: MembershipDeps): Promise<Membership> {
  const { cluster, tasks, logger } = deps;
  const handler: ControlHandler = async (command, from) => {
    if (command.kind !== 'cancel') {
      const reply = await applyForwarded(deps.control, command, from);
      claimAfter(command);
      return reply;
    }
    const canceled = await tasks.onCancel(command.task_id);
    return canceled ? { ok: true, detail: canceled } : { ok: false, message: `task ${command.task_id} is not held here` };
  };
  // A reload ends a drain without any slot count changing, so no capacity event or wake-up
  // restarts the claims here: restart them.
  const claimAfter = (command: BroadcastCommand) => {
    if (command.kind !== 'drain') tasks.claimAll();
  };
  const bus = new ControlBus({ redis: cluster.redis, subscriber: cluster.subscriber, keys: cluster.keys, replicaId: cluster.replicaId, handler, clock: deps.clock, ids: deps.ids });
  await bus.start();
  tasks.bus = bus;

  let lease: ReplicaLease;
  let leaving = false;
  const newLease = () => new ReplicaLease({
    redis: cluster.redis,
    keys: cluster.keys,
    replicaId: cluster.replicaId,
    token: deps.ids.uuid(),
    clock: deps.clock,
    leaseMs: deps.leaseMs,
    onLost: (error) => void lost(error),
    onTakeover: (dead) => void takeOver(dead),
    onError: (error) => logger.warn({ err: error.message }, 'lease renewal failed; retrying'),
  });
  const lost = async (error: StateError) => {
    // A survivor may be ending our tasks: admit and claim nothing until we hold a fresh lease.
    tasks.admitting = false;
    // ...and its running tasks are the survivor's to end: they stop here now (no more tokens).
    const ended = tasks.endClaimedOnLeaseLoss();
    logger.error({ err: error.message, ended }, 'lease lost: running tasks ended (WORKER_RESET), admissions and claims stopped until this replica rejoins');
    while (!leaving) {
      await new Promise<void>((resolve) => deps.clock.setTimer(Math.max(100, Math.floor(deps.leaseMs / 3)), resolve));
      try {
        lease = newLease();
        await lease.acquire();
        tasks.admitting = true;
        logger.warn('rejoined the cluster with a new lease');
        return;
      } catch (retry) {
        logger.warn({ err: String(retry) }, 'rejoin failed; retrying');
      }
    }
  };
  const readers = new ReaderCount({ redis: cluster.redis, keys: cluster.keys, replicaId: cluster.replicaId, ttlMs: TASK_BACKSTOP_MS });
  const takeOver = async (dead: string) => {
    try {
      const ended = await endLostReplicaTasks(dead, { pools: cluster.queues, logs: cluster.logs, registry: cluster.registry, survivor: cluster.replicaId, sessions: tasks.sessions, idempotency: cluster.idempotency, readers, aside: tasks.lostReplicaAside });
      for (const task of ended) {
        if (task.terminalSeq === 0) continue;
        const spec = parseSpec(await cluster.redis.get(cluster.keys.spec(task.taskId)));
        if (spec === undefined) continue;
        const e2eMs = Math.max(0, deps.clock.now() - spec.createdAt);
        deps.observer.finished?.({ ...specFacts(spec), state: 'failed', error_code: 'WORKER_RESET', cancel_reason: `replica_lost:${dead}`, tokens_out: 0, queue_wait_ms: 0, decode_time_ms: 0, e2e_ms: e2eMs });
      }
      logger.warn({ lost_replica: dead, ended: ended.length }, 'took over a lost replica: its running tasks ended, its queued tasks stay queued');
      tasks.claimAll();
    } catch (error) {
      logger.error({ err: String(error), lost_replica: dead }, 'takeover of a lost replica failed');
    }
  };
  lease = newLease();
  await lease.acquire();
  return {
    broadcast: (command) => {
      claimAfter(command);
      return broadcastControl({ bus, live: () => lease.live(), self: cluster.replicaId }, command);
    },
    async leave() {
      leaving = true;
      await lease.release().catch((error: unknown) => logger.warn({ err: String(error) }, 'lease not released; it expires by itself'));
      await bus.close();
    },
  };
}
