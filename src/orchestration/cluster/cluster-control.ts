// Drain and reload from any replica (issue 15): the replica a control request reaches applies it
// itself, then sends it over the control bus to every other live replica (the lease registry's
// live set) and answers with each replica's ack, or the typed reason it has none
// (CONTROL_UNREACHABLE: nobody listens; CONTROL_TIMEOUT: no ack in time). Never a 500.

import type { Result } from '../../core/errors.ts';
import type { ControlBus, ControlCommand, ControlReply } from '../../state/redis/control-bus.ts';
import { StateError } from '../../state/state-errors.ts';

/** One gateway replica's answer to a broadcast control command. */
export interface ReplicaAck {
  replica_id: string;
  ok: boolean;
  /** Why not: the replica's own refusal code (NOT_FOUND, CONFLICT, POOL_UNREADY, ...) or CONTROL_UNREACHABLE / CONTROL_TIMEOUT / STATE_UNAVAILABLE. */
  code?: string;
  message?: string;
}

/** The commands that act on every replica. */
export type BroadcastCommand = Extract<ControlCommand, { kind: 'drain' | 'reload_pool' | 'reload' }>;

/** What a replica does when another replica forwards a drain or reload to it. */
export interface ControlActions {
  drain(poolId: string, deadlineMs: number): Result<unknown>;
  reloadPool(poolId: string): Promise<Result<unknown>>;
  reloadConfig(actor: string): Promise<Result<unknown>>;
}

/** Applies a forwarded drain or reload here; the ack carries the refusal's code, never a stack. */
export async function applyForwarded(actions: ControlActions, command: BroadcastCommand, from: string): Promise<ControlReply> {
  let done: Result<unknown>;
  switch (command.kind) {
    case 'drain':
      done = actions.drain(command.pool_id, command.deadline_ms);
      break;
    case 'reload_pool':
      done = await actions.reloadPool(command.pool_id);
      break;
    case 'reload':
      done = await actions.reloadConfig(`replica:${from}`);
      break;
  }
  return done.ok ? { ok: true } : { ok: false, code: done.error.code, message: done.error.message };
}

export interface BroadcastDeps {
  bus: Pick<ControlBus, 'send'>;
  /** The live replicas (the lease registry), this one included. */
  live(): Promise<string[]>;
  self: string;
  timeoutMs?: number;
}

/**
 * Sends `command` to every other live replica, in parallel, and collects their acks; this
 * replica's own ack comes first (the caller applied the command here already, successfully).
 * When the live set cannot be read, one entry `*` (every other replica) says so.
 */
export async function broadcastControl(deps: BroadcastDeps, command: BroadcastCommand): Promise<ReplicaAck[]> {
  const acks: ReplicaAck[] = [{ replica_id: deps.self, ok: true }];
  let others: string[];
  try {
    others = (await deps.live()).filter((id) => id !== deps.self).sort();
  } catch (error) {
    const code = error instanceof StateError ? error.code : 'STATE_UNAVAILABLE';
    acks.push({ replica_id: '*', ok: false, code, message: 'the live replicas could not be listed; the others were not told' });
    return acks;
  }
  const sent = await Promise.all(others.map((to) => deps.bus.send(to, command, deps.timeoutMs)));
  others.forEach((replicaId, i) => {
    const result = sent[i];
    if (result === undefined) return;
    if (!result.ok) acks.push({ replica_id: replicaId, ok: false, code: result.error.code, message: result.error.message });
    else if (result.reply.ok) acks.push({ replica_id: replicaId, ok: true });
    else acks.push({ replica_id: replicaId, ok: false, ...(result.reply.code !== undefined ? { code: result.reply.code } : {}), message: result.reply.message });
  });
  return acks;
}
