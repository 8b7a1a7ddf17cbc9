// The audit row and how lifecycle facts become rows. Owns what is recorded (ARCHITECTURE §7):
// decisions, outcomes and control actions, never prompts or outputs (at most prompt_sha256).

import type { AdmittedFact, ControlFact, PlacedFact, RejectedFact, TerminalFact } from '../core/observer.ts';
import type { JsonValue } from '../core/canonical-json.ts';
import { storableString, toJsonValue } from './jsonb-value.ts';

export const AUDIT_KINDS = ['admission', 'rejection', 'placement', 'terminal', 'control', 'session_delete'] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

/** A row before the writer gives it a place in the chain. */
export interface AuditRecord {
  at: Date;
  kind: AuditKind;
  task_id: string | null;
  session_id: string | null;
  pool_id: string | null;
  actor: string | null;
  correlation_id: string | null;
  data: { [key: string]: JsonValue };
}

/** A committed (or about to be committed) row: its place in the chain is fixed. */
export interface AuditRow extends AuditRecord {
  /** The writer's chain (one per gateway replica on a shared database; hash-chain.ts DEFAULT_CHAIN otherwise). */
  chain: string;
  seq: number;
  prev_hash: string;
  hash: string;
}

/** An admission row with no later terminal row: a task the previous run left open (issue 10, finding 6). */
export interface OpenAdmission {
  seq: number;
  at: Date;
  task_id: string;
  session_id: string | null;
  pool_id: string | null;
  correlation_id: string | null;
  admission: { [key: string]: JsonValue };
  /** The data of the task's last placement row, if it was placed. */
  placement: { [key: string]: JsonValue } | null;
}

export const RESTART_ACTOR = 'system:restart';

export function isAuditKind(value: unknown): value is AuditKind {
  return typeof value === 'string' && (AUDIT_KINDS as readonly string[]).includes(value);
}

/**
 * Drops undefined members so optional fact fields never appear as keys. The records below list
 * their members in canonical (sorted) order, so hashing a row needs no sort (hash-chain.ts dataJson);
 * another order is still hashed right, only slower.
 */
function compact(data: Record<string, unknown>): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = {};
  for (const key of Object.keys(data)) {
    const json = toJsonValue(data[key]);
    if (json !== undefined) out[key] = json;
  }
  return out;
}

// Ids can come from clients; a NUL in one must not make the whole batch fail to insert.
const orNull = (value: string | undefined): string | null => (value === undefined ? null : storableString(value));
const text = (value: string): string => storableString(value);

export function admissionRecord(fact: AdmittedFact, at: Date): AuditRecord {
  return {
    at, kind: 'admission', task_id: text(fact.task_id), session_id: orNull(fact.session_id), pool_id: text(fact.pool_id), actor: orNull(fact.key_id),
    correlation_id: text(fact.correlation_id),
    data: compact({
      accepted: true, evicted_task_id: fact.evicted_task_id, fallback_code: fact.fallback_code, fallback_from_pool_id: fact.fallback_from_pool_id,
      max_tokens: fact.max_tokens, model: fact.model, policy_label: fact.policy_label, predicted_start_ms: fact.predicted_start_ms,
      priority: fact.priority, prompt_sha256: fact.prompt_sha256, queue_position: fact.queue_position, tenant: fact.tenant,
    }),
  };
}

export function rejectionRecord(fact: RejectedFact, at: Date): AuditRecord {
  const data = compact({ accepted: false, code: fact.code, limit: fact.limit, policy_label: fact.policy_label, priority: fact.priority, tenant: fact.tenant });
  const repeats = fact.repeats;
  if (repeats !== undefined) {
    // A coalesced row (audit/rejection-coalescer.ts): `count` refusals, each one's id in order. The
    // ids are made storable one by one; compact's round trip of the list through JSON text cost
    // more than the rest of the row (issue 14).
    data.count = repeats.correlation_ids.length;
    data.correlation_ids = repeats.correlation_ids.map(text);
    data.first_at = new Date(Math.trunc(repeats.first_at_ms)).toISOString();
  }
  return {
    at, kind: 'rejection', task_id: orNull(fact.task_id), session_id: orNull(fact.session_id), pool_id: orNull(fact.pool_id),
    actor: orNull(fact.key_id), correlation_id: text(fact.correlation_id), data,
  };
}

export function placementRecord(fact: PlacedFact, at: Date): AuditRecord {
  return {
    at, kind: 'placement', task_id: text(fact.task_id), session_id: orNull(fact.session_id), pool_id: text(fact.pool_id), actor: orNull(fact.key_id),
    correlation_id: text(fact.correlation_id),
    data: compact({ attempt: fact.attempt, decision: fact.decision, engine: fact.engine, queue_wait_ms: fact.queue_wait_ms, replica_id: fact.replica_id, tenant: fact.tenant }),
  };
}

export function terminalRecord(fact: TerminalFact, at: Date): AuditRecord {
  return {
    at, kind: 'terminal', task_id: text(fact.task_id), session_id: orNull(fact.session_id), pool_id: text(fact.pool_id), actor: orNull(fact.key_id),
    correlation_id: text(fact.correlation_id),
    data: compact({
      cancel_reason: fact.cancel_reason, cost_source: fact.cost_source, cost_usd: fact.cost_usd, decode_time_ms: fact.decode_time_ms, e2e_ms: fact.e2e_ms,
      engine: fact.engine, error_code: fact.error_code, finish_reason: fact.finish_reason, prompt_tokens: fact.prompt_tokens, queue_wait_ms: fact.queue_wait_ms,
      replica_id: fact.replica_id, state: fact.state, stop_sequence: fact.stop_sequence, tenant: fact.tenant, tokens_out: fact.tokens_out,
    }),
  };
}

/** Control actions; a session deletion gets its own kind so it can be filtered on. */
export function controlRecord(fact: ControlFact, at: Date): AuditRecord {
  const isSessionDelete = fact.action === 'session_delete';
  return {
    at, kind: isSessionDelete ? 'session_delete' : 'control', task_id: null,
    session_id: isSessionDelete ? text(fact.target) : null, pool_id: null, actor: text(fact.actor), correlation_id: orNull(fact.correlation_id),
    data: compact({ action: fact.action, tenant: fact.tenant, target: fact.target, outcome: fact.outcome, detail: fact.detail }),
  };
}

export const REPLICA_LOST_ACTOR = 'system:replica_lost';

/**
 * The terminal row written for a task left open: by a restart (the previous run's), or with
 * `lostReplica` by a survivor for a gateway replica that was lost, in the survivor's own chain.
 * State `abandoned`, the cause, and what had been recorded (admission seq, last engine replica).
 */
export function abandonedRecord(open: OpenAdmission, at: Date, lostReplica?: string): AuditRecord {
  const placement = open.placement ?? {};
  return {
    at, kind: 'terminal', task_id: open.task_id, session_id: open.session_id, pool_id: open.pool_id,
    actor: lostReplica === undefined ? RESTART_ACTOR : REPLICA_LOST_ACTOR, correlation_id: open.correlation_id,
    data: compact({
      state: 'abandoned', cause: lostReplica === undefined ? 'gateway_restart' : 'replica_lost', lost_replica: lostReplica,
      last_known_state: open.placement === null ? 'queued' : 'running',
      admission_seq: open.seq, replica_id: placement.replica_id, engine: placement.engine,
    }),
  };
}
