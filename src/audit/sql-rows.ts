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
 * One batch as the INSERT takes it: each row's canonical content (the bytes its hash covers, which
 * hold every other column), prev_hash and hash. The database derives the columns from the content,
 * so a stored row can only ever say what its hash says.
 */
export interface InsertBatch {
  content: string[];
  prev_hash: string[];
  hash: string[];
}

export function insertBatch(rows: readonly ChainedRow[]): InsertBatch {
  const batch: InsertBatch = { content: [], prev_hash: [], hash: [] };
  for (const row of rows) {
    batch.content.push(row.content);
    batch.prev_hash.push(row.prev_hash);
    batch.hash.push(row.hash);
  }
  return batch;
}

const HASH_CHARS = 64;

/**
 * A batch as one string, for the PGlite worker: a line per row, prev_hash + hash + content.
 * Canonical JSON never holds a raw newline, and posting one string costs a copy where a batch
 * of row objects costs a structured clone of each.
 */
export function encodeBatch(rows: readonly ChainedRow[]): string {
  let text = '';
  for (const row of rows) text += `${text === '' ? '' : '\n'}${row.prev_hash}${row.hash}${row.content}`;
  return text;
}

export function decodeBatch(text: string): InsertBatch {
  const batch: InsertBatch = { content: [], prev_hash: [], hash: [] };
  if (text === '') return batch;
  for (const line of text.split('\n')) {
    if (line.length <= 2 * HASH_CHARS) throw new Error('malformed audit batch line');
    batch.prev_hash.push(line.slice(0, HASH_CHARS));
    batch.hash.push(line.slice(HASH_CHARS, 2 * HASH_CHARS));
    batch.content.push(line.slice(2 * HASH_CHARS));
  }
  return batch;
}

export function insertParams(batch: InsertBatch): string[][] {
  return [batch.content, batch.prev_hash, batch.hash];
}

// The text[] -> jsonb[] cast parses each content once, before unnest; the columns come out of it.
// Content names its chain only when it is not the default one (hash-chain.ts).
export const INSERT_BATCH_SQL = `INSERT INTO audit_log (${AUDIT_COLUMNS})
  SELECT coalesce(c->>'chain', '${DEFAULT_CHAIN}'), (c->>'seq')::bigint, (c->>'at')::timestamptz, c->>'kind', c->>'task_id', c->>'session_id', c->>'pool_id',
    c->>'actor', c->>'correlation_id', c->'data', ph, h
  FROM unnest($1::text[]::jsonb[], $2::text[], $3::text[]) AS b(c, ph, h)`;
