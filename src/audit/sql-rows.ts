// Mapping between database rows and audit values. Lenient on purpose where tampering could
// show: whatever is stored is handed to the verifier as is, so a forged value fails its hash
// instead of being "repaired" into a valid one here.

import { DEFAULT_CHAIN, type ChainedRow } from './hash-chain.ts';
import { isAuditKind, type AuditRow } from './records.ts';
import type { AuditHold } from './store.ts';
import type { SqlRow } from './sql-driver.ts';

export const AUDIT_COLUMNS = 'chain, seq, at, kind, task_id, session_id, pool_id, actor, correlation_id, data, prev_hash, hash';
export const HOLD_COLUMNS = 'id, task_id, session_id, from_at, to_at, reason, created_by, created_at';

const text = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));
const time = (value: unknown): Date => (value instanceof Date ? value : new Date(String(value)));
const timeOrNull = (value: unknown): Date | null => (value === null || value === undefined ? null : time(value));

const HASH_CHARS = 64;

export function toAuditRow(row: SqlRow): AuditRow {
  if (!isAuditKind(row.kind)) throw new Error(`audit_log row ${String(row.seq)} has an unknown kind`);
  return {
    chain: text(row.chain) ?? DEFAULT_CHAIN,
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

/**
 * A batch as one string, the INSERT's one parameter and the PGlite worker's wire form: a line per
 * row, prev_hash + hash + content (the canonical JSON its hash covers, which holds every other
 * column). Canonical JSON never holds a raw newline. One text parameter is bound as is, where
 * arrays of contents were escaped quote by quote in JavaScript and unescaped again by Postgres,
 * and posting one string to the worker costs a copy where row objects cost a structured clone.
 */
export function encodeBatch(rows: readonly ChainedRow[]): string {
  let text = '';
  for (const row of rows) text += `${text === '' ? '' : '\n'}${row.prev_hash}${row.hash}${row.content}`;
  return text;
}

// The database derives the columns from each line's content, so a stored row can only ever say
// what its hash says. A line too short to hold both hashes leaves an empty content, which is not
// JSON: the statement fails and nothing of the batch is stored. The content is parsed once, in the
// subquery (OFFSET 0 keeps the planner from copying the cast into every column that reads it).
// Content names its chain only when it is not the default one (hash-chain.ts).
export const INSERT_BATCH_SQL = `INSERT INTO audit_log (${AUDIT_COLUMNS})
  SELECT coalesce(c->>'chain', '${DEFAULT_CHAIN}'), (c->>'seq')::bigint, (c->>'at')::timestamptz, c->>'kind', c->>'task_id', c->>'session_id', c->>'pool_id',
    c->>'actor', c->>'correlation_id', c->'data', ph, h
  FROM (SELECT substr(line, 1, ${HASH_CHARS}) AS ph, substr(line, ${HASH_CHARS + 1}, ${HASH_CHARS}) AS h, substr(line, ${2 * HASH_CHARS + 1})::jsonb AS c
    FROM string_to_table($1::text, E'\\n') AS line OFFSET 0) AS b`;
