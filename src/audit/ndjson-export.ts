// The audit log as NDJSON, one row per line with its chain fields (chain, seq, prev_hash, hash),
// chain after chain, and the reverse: an export read back and verified offline, every chain in it,
// e.g. from a backup (docs/operations.md).

import { DEFAULT_CHAIN } from './hash-chain.ts';
import { isAuditKind, type AuditRow } from './records.ts';
import type { AuditQuery, AuditStore } from './store.ts';
import { verifyLog, type VerifyResult } from './verify-chain.ts';

/** A row as the API and the export write it: `at` as an ISO string, every other field as stored. */
export type AuditRowJson = Omit<AuditRow, 'at'> & { at: string };

export type ExportFilter = Omit<AuditQuery, 'limit'>;

const EXPORT_PAGE_ROWS = 1_000;

export function auditRowJson(row: AuditRow): AuditRowJson {
  return {
    chain: row.chain, seq: row.seq, at: row.at.toISOString(), kind: row.kind, task_id: row.task_id, session_id: row.session_id,
    pool_id: row.pool_id, actor: row.actor, correlation_id: row.correlation_id, data: row.data,
    prev_hash: row.prev_hash, hash: row.hash,
  };
}

/**
 * Lines end with "\n". Pages by (chain, seq), so a long export never holds the log in memory.
 * A filter's after_seq without after_chain means rows with a larger seq in every chain.
 */
export async function* exportNdjson(store: AuditStore, filter: ExportFilter = {}): AsyncGenerator<string> {
  const { after_chain: afterChain, after_seq: afterSeq, ...rest } = filter;
  const everyChainAfter = afterChain === undefined ? afterSeq ?? 0 : 0;
  let cursor = { after_chain: afterChain ?? '', after_seq: afterChain === undefined ? 0 : afterSeq ?? 0 };
  for (;;) {
    const page = await store.query({ ...rest, ...cursor, limit: EXPORT_PAGE_ROWS });
    for (const row of page) if (row.seq > everyChainAfter) yield `${JSON.stringify(auditRowJson(row))}\n`;
    const last = page.at(-1);
    if (last === undefined || page.length < EXPORT_PAGE_ROWS) return;
    cursor = { after_chain: last.chain, after_seq: last.seq };
  }
}

function field(record: Record<string, unknown>, key: string): string | null {
  const value = record[key];
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') throw new TypeError(`audit line: ${key} must be a string`);
  return value;
}

export function parseAuditLine(line: string): AuditRow {
  const parsed: unknown = JSON.parse(line);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TypeError('audit line: not an object');
  const record = parsed as Record<string, unknown>;
  const { seq, at, kind, data } = record;
  if (typeof seq !== 'number' || typeof at !== 'string' || !isAuditKind(kind)) throw new TypeError('audit line: seq, at or kind missing');
  return {
    // Lines exported before chains existed have no chain: they are the default one.
    chain: field(record, 'chain') ?? DEFAULT_CHAIN,
    seq, at: new Date(at), kind,
    task_id: field(record, 'task_id'), session_id: field(record, 'session_id'), pool_id: field(record, 'pool_id'),
    actor: field(record, 'actor'), correlation_id: field(record, 'correlation_id'),
    // Hashed as found: a forged value fails verification rather than being rejected here.
    data: data as AuditRow['data'],
    prev_hash: field(record, 'prev_hash') ?? '', hash: field(record, 'hash') ?? '',
  };
}

/** Verifies a complete (unfiltered) export, line by line, each chain in it on its own. */
export async function verifyNdjson(lines: AsyncIterable<string> | Iterable<string>): Promise<VerifyResult> {
  async function* rows(): AsyncGenerator<AuditRow> {
    for await (const line of lines) {
      if (line.trim() !== '') yield parseAuditLine(line);
    }
  }
  return verifyLog(rows());
}
