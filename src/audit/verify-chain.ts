// Walks rows in seq order and names the first row that breaks the chain. Pure over an async
// iterable, so the stores, the control-plane endpoint and an offline NDJSON check share it.
// A chain may start after seq 1 only when a retention_purge row anchors that start (see
// docs/operations.md "Retention"): its data carries the seq and hash of the last purged row.

import { GENESIS_HASH, rowHash } from './hash-chain.ts';
import type { AuditRow } from './records.ts';

export type VerifyResult =
  | { ok: true; rows: number; head_seq: number; head_hash: string }
  | { ok: false; rows: number; first_bad_seq: number; reason: string };

interface Anchor {
  seq: number;
  hash: string;
}

/** The anchor a retention_purge control row vouches for, if the row is one. */
export function purgeAnchorOf(row: AuditRow): Anchor | null {
  const { action, anchor_seq, anchor_hash } = row.data;
  if (row.kind !== 'control' || action !== 'retention_purge') return null;
  return typeof anchor_seq === 'number' && typeof anchor_hash === 'string' ? { seq: anchor_seq, hash: anchor_hash } : null;
}

function rowProblem(row: AuditRow, previous: AuditRow | null): string | null {
  if (previous !== null && row.seq !== previous.seq + 1) return `seq ${row.seq} follows ${previous.seq}: rows are missing`;
  if (previous !== null && row.prev_hash !== previous.hash) return 'prev_hash does not match the previous row';
  if (previous === null && row.seq === 1 && row.prev_hash !== GENESIS_HASH) return 'the first row does not start from the genesis hash';
  if (rowHash(row.prev_hash, row.seq, row) !== row.hash) return 'hash does not match the row content';
  return null;
}

export async function verifyChain(rows: AsyncIterable<AuditRow>): Promise<VerifyResult> {
  let previous: AuditRow | null = null;
  let first: AuditRow | null = null;
  let unresolvedStart: Anchor | null = null;
  let count = 0;
  for await (const row of rows) {
    const problem = rowProblem(row, previous);
    if (problem !== null) return { ok: false, rows: count, first_bad_seq: row.seq, reason: problem };
    if (first === null) {
      first = row;
      if (row.seq !== 1) unresolvedStart = { seq: row.seq - 1, hash: row.prev_hash };
    }
    const anchor = purgeAnchorOf(row);
    if (unresolvedStart !== null && anchor !== null && anchor.seq === unresolvedStart.seq && anchor.hash === unresolvedStart.hash) {
      unresolvedStart = null;
    }
    previous = row;
    count += 1;
  }
  if (first !== null && unresolvedStart !== null) {
    return { ok: false, rows: count, first_bad_seq: first.seq, reason: `the chain starts at seq ${first.seq} but no retention_purge row anchors it` };
  }
  return { ok: true, rows: count, head_seq: previous?.seq ?? 0, head_hash: previous?.hash ?? GENESIS_HASH };
}
