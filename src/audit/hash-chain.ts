// The tamper-evidence rule, in one place: hash = sha256(prev_hash + canonical JSON of the row's
// content), content being every column except prev_hash and hash. Changing this breaks every
// stored chain, so it is versioned by migration, never edited.

import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
import type { AuditRecord, AuditRow } from './records.ts';

/** prev_hash of seq 1: the chain's fixed origin. */
export const GENESIS_HASH = '0'.repeat(64);

export interface ChainHead {
  /** seq of the last row; 0 before the first row. */
  seq: number;
  hash: string;
}

export const GENESIS_HEAD: ChainHead = Object.freeze({ seq: 0, hash: GENESIS_HASH });

export function rowContent(seq: number, record: AuditRecord): Record<string, unknown> {
  return {
    seq, at: record.at.toISOString(), kind: record.kind, task_id: record.task_id, session_id: record.session_id,
    pool_id: record.pool_id, actor: record.actor, correlation_id: record.correlation_id, data: record.data,
  };
}

export function rowHash(prevHash: string, seq: number, record: AuditRecord): string {
  return createHash('sha256').update(prevHash).update(canonicalJson(rowContent(seq, record))).digest('hex');
}

/** Places records after `head`, in order, and returns the rows plus the new head. */
export function chainRecords(head: ChainHead, records: readonly AuditRecord[]): { rows: AuditRow[]; head: ChainHead } {
  const rows: AuditRow[] = [];
  let { seq, hash } = head;
  for (const record of records) {
    seq += 1;
    const next = rowHash(hash, seq, record);
    rows.push({ ...record, seq, prev_hash: hash, hash: next });
    hash = next;
  }
  return { rows, head: { seq, hash } };
}
