// A task's last known state, read from its audit rows (issue 10, finding 6): what
// GET /v1/tasks/{id} answers once the task is no longer in memory (retention passed, or a
// restart). Same shape as the live status; what only the event log knew is absent or zero.

import type { components } from '../generated/api-types.ts';
import { FinishReason as FINISH_REASONS } from '../generated/enums.ts';
import { ERROR_TABLE, isErrorCode } from '../core/errors.ts';
import { TASK_STATES, type TaskState } from '../core/task/events.ts';
import type { JsonValue } from '../core/canonical-json.ts';
import type { AuditRow } from './records.ts';
import type { AuditStore } from './store.ts';

export type TaskStatus = components['schemas']['TaskStatus'];

// A task has a handful of rows (admission, placements per attempt, terminal, a few rejections).
const TASK_ROWS_LIMIT = 1_000;

type FinishReason = NonNullable<TaskStatus['finish_reason']>;
const isFinishReason = (value: unknown): value is FinishReason => (FINISH_REASONS as readonly unknown[]).includes(value);
const str = (value: JsonValue | undefined): string | undefined => (typeof value === 'string' ? value : undefined);
const int = (value: JsonValue | undefined): number | undefined => (typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined);
const isTaskState = (value: unknown): value is TaskState => (TASK_STATES as readonly unknown[]).includes(value);

/** The terminal row's USD cost, when one was recorded (an `unpriced` row has none). */
function costOf(data: AuditRow['data'] | undefined): Pick<TaskStatus, 'cost_usd' | 'cost_source'> {
  const usd = data?.cost_usd;
  const source = data?.cost_source;
  if (typeof usd !== 'number' || !Number.isFinite(usd) || usd < 0 || (source !== 'reported' && source !== 'price_table')) return {};
  return { cost_usd: usd, cost_source: source };
}

function errorOf(code: JsonValue | undefined): TaskStatus['error'] | undefined {
  if (!isErrorCode(code)) return undefined;
  return { code, message: `the task ended with ${code} (answered from the audit log)`, retriable: ERROR_TABLE[code].retriable };
}

/** Folds one task's rows (seq order) into its status; undefined when no admission row is among them. */
export function statusFromRows(rows: readonly AuditRow[]): TaskStatus | undefined {
  const start = rows.findLastIndex((row) => row.kind === 'admission');
  const admission = rows[start];
  if (admission === undefined || admission.task_id === null) return undefined;
  const later = rows.slice(start + 1);
  const placement = later.findLast((row) => row.kind === 'placement');
  const terminal = later.find((row) => row.kind === 'terminal');
  const recorded = terminal?.data.state;
  const state: TaskState = isTaskState(recorded) ? recorded : placement !== undefined ? 'running' : 'queued';
  const priority = admission.data.priority === 'batch' ? 'batch' : 'interactive';
  const replica = str(terminal?.data.replica_id) ?? str(placement?.data.replica_id);
  const engine = str(terminal?.data.engine) ?? str(placement?.data.engine);
  const finishReason = terminal?.data.finish_reason;
  const stopSequence = str(terminal?.data.stop_sequence);
  const error = errorOf(terminal?.data.error_code);
  return {
    task_id: admission.task_id,
    state,
    model: str(admission.data.model) ?? '',
    pool_id: admission.pool_id ?? '',
    priority,
    ...(admission.session_id === null ? {} : { session_id: admission.session_id }),
    ...(replica !== undefined && engine !== undefined ? { replica_id: replica, engine } : {}),
    created_at: admission.at.toISOString(),
    ...(placement === undefined ? {} : { started_at: placement.at.toISOString() }),
    ...(terminal === undefined ? {} : { finished_at: terminal.at.toISOString() }),
    tokens_out: int(terminal?.data.tokens_out) ?? 0,
    ...(isFinishReason(finishReason) ? { finish_reason: finishReason } : {}),
    ...(finishReason === 'stop' && stopSequence !== undefined ? { stop_sequence: stopSequence } : {}),
    ...(error === undefined ? {} : { error }),
    last_event_id: 0,
    ...costOf(terminal?.data),
  };
}

/**
 * A task's rows in the order they happened. Within a chain that is seq order; across chains (a
 * survivor's terminal row for a lost replica's task) only `at` orders them.
 */
function inTimeOrder(rows: readonly AuditRow[]): AuditRow[] {
  return rows.toSorted((a, b) => (a.chain === b.chain ? a.seq - b.seq : a.at.getTime() - b.at.getTime()));
}

/** The `history` dependency of the task routes: the task's status from the audit, or undefined. */
export function taskHistory(store: AuditStore): (taskId: string) => Promise<TaskStatus | undefined> {
  return async (taskId) => {
    // No task id holds NUL or a lone surrogate (ids are validated at admission), and Postgres
    // text cannot hold them: such an id is simply unknown, not a store failure.
    if (taskId.includes('\u0000') || !taskId.isWellFormed()) return undefined;
    return statusFromRows(inTimeOrder(await store.query({ task_id: taskId, limit: TASK_ROWS_LIMIT })));
  };
}

/** The tenant of a task's latest admission row (rows written before tenancy: the default tenant). */
export function tenantFromRows(rows: readonly AuditRow[]): string {
  const admission = rows.findLast((row) => row.kind === 'admission');
  const tenant = admission?.data.tenant;
  return typeof tenant === 'string' ? tenant : 'default';
}

/** Like taskHistory, with the owning tenant, so the route answers other tenants 404 (ORCH-1205). */
export function ownedTaskHistory(store: AuditStore): (taskId: string) => Promise<{ status: TaskStatus; tenant: string } | undefined> {
  return async (taskId) => {
    if (taskId.includes('\u0000') || !taskId.isWellFormed()) return undefined;
    const rows = inTimeOrder(await store.query({ task_id: taskId, limit: TASK_ROWS_LIMIT }));
    const status = statusFromRows(rows);
    return status === undefined ? undefined : { status, tenant: tenantFromRows(rows) };
  };
}
