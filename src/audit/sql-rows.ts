// Mapping between database rows and audit values. Lenient on purpose where tampering could
// show: whatever is stored is handed to the verifier as is, so a forged value fails its hash
// instead of being "repaired" into a valid one here.

import { isAuditKind, type AuditRow } from './records.ts';
import type { AuditHold } from './store.ts';
import type { SqlRow } from './sql-driver.ts';

export const AUDIT_COLUMNS = 'seq, at, kind, task_id, session_id, pool_id, actor, correlation_id, data, prev_hash, hash';
export const HOLD_COLUMNS = 'id, task_id, session_id, from_at, to_at, reason, created_by, created_at';

const text = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));
const time = (value: unknown): Date => (value instanceof Date ? value : new Date(String(value)));
const timeOrNull = (value: unknown): Date | null => (value === null || value === undefined ? null : time(value));

export function toAuditRow(row: SqlRow): AuditRow {
  if (!isAuditKind(row.kind)) throw new Error(`audit_log row ${String(row.seq)} has an unknown kind`);
  return {
    seq: Number(row.seq),
    at: time(row.at),
    kind: row.kind,
    task_id: text(row.task_id),
    session_id: text(row.session_id),
    pool_id: text(row.pool_id),
    actor: text(row.actor),
    correlation_id: text(row.correlation_id),
    // jsonb comes back parsed; the verifier hashes exactly what was stored.
    data: row.data as AuditRow['data'],
    prev_hash: String(row.prev_hash),
    hash: String(row.hash),
  };
}

export function toAuditHold(row: SqlRow): AuditHold {
  return {
    id: String(row.id),
    task_id: text(row.task_id),
    session_id: text(row.session_id),
    from_at: timeOrNull(row.from_at),
    to_at: timeOrNull(row.to_at),
    reason: String(row.reason),
    created_by: String(row.created_by),
    created_at: time(row.created_at),
  };
}

/** Column-wise parameters for one INSERT ... SELECT FROM unnest(...) of a whole batch. */
export function insertParams(rows: readonly AuditRow[]): (string | null)[][] {
  const columns: (string | null)[][] = Array.from({ length: 11 }, () => []);
  for (const row of rows) {
    const values = [
      String(row.seq), row.at.toISOString(), row.kind, row.task_id, row.session_id, row.pool_id, row.actor,
      row.correlation_id, JSON.stringify(row.data), row.prev_hash, row.hash,
    ];
    // Nullable text columns travel as NULL array elements.
    values.forEach((value, i) => columns[i]?.push(value));
  }
  return columns;
}

export const INSERT_BATCH_SQL = `INSERT INTO audit_log (${AUDIT_COLUMNS})
  SELECT s::bigint, a::timestamptz, k, t, se, p, ac, c, d::jsonb, ph, h
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
    AS b(s, a, k, t, se, p, ac, c, d, ph, h)`;
