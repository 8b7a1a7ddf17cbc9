// Walks rows in seq order and names the first row that breaks the chain. Pure over an async
// iterable, so the stores, the control-plane endpoint and an offline NDJSON check share it.
// A chain may start after seq 1 only when a retention_purge row anchors that start (see
// docs/operations.md "Retention"): its data carries the seq and hash of the last purged row.
// With the database's chain marks (genesis + every purge, migrations/0002) it also proves the
// chain was neither restarted nor cut below its latest purge row.

import { GENESIS_HASH, rowHash } from './hash-chain.ts';
import type { AuditRow } from './records.ts';

export type VerifyResult =
  | { ok: true; rows: number; head_seq: number; head_hash: string }
  | { ok: false; rows: number; first_bad_seq: number; reason: string };

interface Anchor {
  seq: number;
  hash: string;
}

/** What the database recorded outside the chain (table audit_chain_marks). */
export interface ChainMarks {
  /** The first row the chain ever had (or had when marks were introduced); null before any row. */
  genesis: Anchor | null;
  /** Each retention_purge row (seq, hash) and the anchor it left (null when it deleted nothing). */
  purges: readonly { seq: number; hash: string; anchor: Anchor | null }[];
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

/** Where the marks say the chain must start: after the latest purge anchor, else at the genesis. */
function expectedStart(marks: ChainMarks): { seq: number; check(row: AuditRow): boolean; what: string } | null {
  let latest: Anchor | null = null;
  for (const purge of marks.purges) if (purge.anchor !== null && (latest === null || purge.anchor.seq > latest.seq)) latest = purge.anchor;
  if (latest !== null && (marks.genesis === null || latest.seq >= marks.genesis.seq)) {
    const anchor = latest;
    return { seq: anchor.seq + 1, check: (row) => row.prev_hash === anchor.hash, what: `the latest purge anchor (seq ${anchor.seq})` };
  }
  if (marks.genesis === null) return null;
  const genesis = marks.genesis;
  return { seq: genesis.seq, check: (row) => row.hash === genesis.hash, what: `the recorded genesis row (seq ${genesis.seq})` };
}

function startProblem(first: AuditRow, marks: ChainMarks): string | null {
  const start = expectedStart(marks);
  if (start === null) return null;
  if (first.seq > start.seq) return `the chain starts at seq ${first.seq} but must start at seq ${start.seq}, after ${start.what}: rows are missing`;
  if (first.seq < start.seq) return `the chain starts at seq ${first.seq}, before ${start.what}: rows reappeared`;
  if (!start.check(first)) return `the first row is not ${start.what}: the chain was restarted or rewritten`;
  return null;
}

export async function verifyChain(rows: AsyncIterable<AuditRow>, marks?: ChainMarks): Promise<VerifyResult> {
  const marked = new Map((marks?.purges ?? []).map((purge) => [purge.seq, purge.hash]));
  let previous: AuditRow | null = null;
  let first: AuditRow | null = null;
  let unresolvedStart: Anchor | null = null;
  let count = 0;
  for await (const row of rows) {
    const problem = rowProblem(row, previous) ?? (first === null && marks !== undefined ? startProblem(row, marks) : null)
      ?? (marked.has(row.seq) && marked.get(row.seq) !== row.hash ? 'the row is not the purge row the database recorded at this seq' : null);
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
  const tailProblem = marks === undefined ? null : cutTail(previous, marks);
  if (tailProblem !== null) return { ok: false, rows: count, ...tailProblem };
  return { ok: true, rows: count, head_seq: previous?.seq ?? 0, head_hash: previous?.hash ?? GENESIS_HASH };
}

/** A recorded genesis or purge row beyond the last row: the end of the chain was removed. */
function cutTail(last: AuditRow | null, marks: ChainMarks): { first_bad_seq: number; reason: string } | null {
  const lastSeq = last?.seq ?? 0;
  const beyond = [...(marks.genesis === null ? [] : [marks.genesis.seq]), ...marks.purges.map((purge) => purge.seq)].filter((seq) => seq > lastSeq);
  if (beyond.length === 0) return null;
  const missing = Math.min(...beyond);
  const what = last === null ? 'the chain is empty' : `the chain ends at seq ${lastSeq}`;
  return { first_bad_seq: missing, reason: `${what} but the database recorded row ${missing} (genesis or purge): rows were removed` };
}
