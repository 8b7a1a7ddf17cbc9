// Walks rows in seq order and names the first row that breaks a chain. Pure over an async
// iterable, so the stores, the control-plane endpoint and an offline NDJSON check share it.
// A chain may start after seq 1 only when a retention_purge row anchors that start (see
// docs/operations.md "Retention"): its data carries the seq and hash of the last purged row.
// With the database's chain marks (genesis + every purge, migrations/0002 and 0004) it also proves
// the chain was neither restarted nor cut below its latest purge row. A log holds one chain per
// writer (migrations/0004): verifyLog checks each, and with the marks, that the chains found are
// exactly the chains registered.

import { GENESIS_HASH, rowHash } from './hash-chain.ts';
import type { AuditRow } from './records.ts';

/** The verdict on one chain. */
export type ChainVerifyResult =
  | { ok: true; rows: number; head_seq: number; head_hash: string }
  | { ok: false; rows: number; first_bad_seq: number; reason: string };

export type NamedChainResult = ChainVerifyResult & { chain: string };

/**
 * The verdict on the whole log: every chain's, in chain-name order. `ok` when all are; `rows`
 * counts the rows found sound in all of them. The head is repeated at the top when the log has at
 * most one chain (what a single-writer log answered before chains existed); a broken log names
 * its first broken chain (by name order) at the top.
 */
export type VerifyResult =
  | { ok: true; rows: number; chains: NamedChainResult[]; head_seq?: number; head_hash?: string }
  | { ok: false; rows: number; chains: NamedChainResult[]; chain: string; first_bad_seq: number; reason: string };

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
  if (rowHash(row.prev_hash, row.seq, row, row.chain) !== row.hash) return 'hash does not match the row content';
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

/** One chain's walk, fed row by row in seq order. */
class ChainWalk {
  readonly #marks: ChainMarks | undefined;
  readonly #marked: Map<number, string>;
  #previous: AuditRow | null = null;
  #first: AuditRow | null = null;
  #unresolvedStart: Anchor | null = null;
  #count = 0;
  #broken: { first_bad_seq: number; reason: string } | null = null;

  constructor(marks: ChainMarks | undefined) {
    this.#marks = marks;
    this.#marked = new Map((marks?.purges ?? []).map((purge) => [purge.seq, purge.hash]));
  }

  /** False once the chain is broken: later rows of it are not looked at. */
  add(row: AuditRow): boolean {
    if (this.#broken !== null) return false;
    const problem = rowProblem(row, this.#previous) ?? (this.#first === null && this.#marks !== undefined ? startProblem(row, this.#marks) : null)
      ?? (this.#marked.has(row.seq) && this.#marked.get(row.seq) !== row.hash ? 'the row is not the purge row the database recorded at this seq' : null);
    if (problem !== null) {
      this.#broken = { first_bad_seq: row.seq, reason: problem };
      return false;
    }
    if (this.#first === null) {
      this.#first = row;
      if (row.seq !== 1) this.#unresolvedStart = { seq: row.seq - 1, hash: row.prev_hash };
    }
    const anchor = purgeAnchorOf(row);
    const start = this.#unresolvedStart;
    if (start !== null && anchor !== null && anchor.seq === start.seq && anchor.hash === start.hash) this.#unresolvedStart = null;
    this.#previous = row;
    this.#count += 1;
    return true;
  }

  result(): ChainVerifyResult {
    const rows = this.#count;
    if (this.#broken !== null) return { ok: false, rows, ...this.#broken };
    const first = this.#first;
    if (first !== null && this.#unresolvedStart !== null) {
      return { ok: false, rows, first_bad_seq: first.seq, reason: `the chain starts at seq ${first.seq} but no retention_purge row anchors it` };
    }
    const last = this.#previous;
    const tailProblem = this.#marks === undefined ? null : cutTail(last, this.#marks);
    if (tailProblem !== null) return { ok: false, rows, ...tailProblem };
    return { ok: true, rows, head_seq: last?.seq ?? 0, head_hash: last?.hash ?? GENESIS_HASH };
  }
}

/** Verifies rows of one chain, in seq order. */
export async function verifyChain(rows: AsyncIterable<AuditRow>, marks?: ChainMarks): Promise<ChainVerifyResult> {
  const walk = new ChainWalk(marks);
  for await (const row of rows) if (!walk.add(row)) break;
  return walk.result();
}

/**
 * Verifies every chain in `rows` (each chain's rows in seq order; chains may interleave). With the
 * database's marks per chain (`registered`), every registered chain is walked even when it has no
 * row left, and rows of a chain that was never registered fail it.
 */
export async function verifyLog(rows: AsyncIterable<AuditRow>, registered?: ReadonlyMap<string, ChainMarks>): Promise<VerifyResult> {
  const walks = new Map<string, ChainWalk>();
  for (const [chain, marks] of registered ?? []) walks.set(chain, new ChainWalk(marks));
  /** Chains with rows but no registration: the first such row's seq. */
  const unregistered = new Map<string, number>();
  for await (const row of rows) {
    let walk = walks.get(row.chain);
    if (walk === undefined && registered !== undefined) {
      if (!unregistered.has(row.chain)) unregistered.set(row.chain, row.seq);
      continue;
    }
    if (walk === undefined) {
      walk = new ChainWalk(undefined);
      walks.set(row.chain, walk);
    }
    walk.add(row);
  }
  const chains: NamedChainResult[] = [...walks].map(([chain, walk]) => ({ chain, ...walk.result() }));
  for (const [chain, firstSeq] of unregistered) {
    chains.push({ chain, ok: false, rows: 0, first_bad_seq: firstSeq, reason: `rows of chain ${chain}, which the database never registered (no genesis mark): written outside the gateway` });
  }
  chains.sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0));
  return summarise(chains);
}

function summarise(chains: NamedChainResult[]): VerifyResult {
  const rows = chains.reduce((sum, chain) => sum + chain.rows, 0);
  const broken = chains.find((chain) => !chain.ok);
  if (broken !== undefined && !broken.ok) return { ok: false, rows, chains, chain: broken.chain, first_bad_seq: broken.first_bad_seq, reason: broken.reason };
  const [only, ...others] = chains;
  if (others.length > 0) return { ok: true, rows, chains };
  const head = only?.ok === true ? only : { head_seq: 0, head_hash: GENESIS_HASH };
  return { ok: true, rows, chains, head_seq: head.head_seq, head_hash: head.head_hash };
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
