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
 * A batch as the INSERT takes it and as it travels to the PGlite worker: each column as one
 * string, rows in order. `content` holds each row's canonical content (the bytes its hash covers,
 * which hold every other column), a line per row: canonical JSON never holds a raw newline.
 * `prev_hash` and `hash` are hex, separated by spaces. Three strings are bound as they are, where
 * arrays of contents were escaped quote by quote in JavaScript and unescaped again by Postgres,
 * and posting them to the worker costs a copy each where row objects cost a structured clone.
 */
export interface EncodedBatch {
  content: string;
  prev_hash: string;
  hash: string;
}

export function encodeBatch(rows: readonly ChainedRow[]): EncodedBatch {
  const batch: EncodedBatch = { content: '', prev_hash: '', hash: '' };
  for (const row of rows) {
    if (batch.hash !== '') {
      batch.content += '\n';
      batch.prev_hash += ' ';
      batch.hash += ' ';
    }
    batch.content += row.content;
    batch.prev_hash += row.prev_hash;
    batch.hash += row.hash;
  }
  return batch;
}

export function insertParams(batch: EncodedBatch): string[] {
  return [batch.content, batch.prev_hash, batch.hash];
}

// The database derives the columns from the content, so a stored row can only ever say what its
// hash says. string_to_array splits on bytes; the text[] -> jsonb[] cast parses each content
// once, before unnest. Columns of unequal length leave NULLs, which the table refuses: the
// statement fails and nothing of the batch is stored.
// Content names its chain only when it is not the default one (hash-chain.ts).
export const INSERT_BATCH_SQL = `INSERT INTO audit_log (${AUDIT_COLUMNS})
  SELECT coalesce(c->>'chain', '${DEFAULT_CHAIN}'), (c->>'seq')::bigint, (c->>'at')::timestamptz, c->>'kind', c->>'task_id', c->>'session_id', c->>'pool_id',
    c->>'actor', c->>'correlation_id', c->'data', ph, h
  FROM unnest(string_to_array($1::text, E'\\n')::jsonb[], string_to_array($2::text, ' '), string_to_array($3::text, ' ')) AS b(c, ph, h)`;
