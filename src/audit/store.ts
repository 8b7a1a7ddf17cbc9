// The audit store port: what the writer, the routes and the CLI may ask of a backend. The
// backends (server Postgres, PGlite in a worker) share the SQL in sql-store.ts.

import type { ChainedRow, ChainHead } from './hash-chain.ts';
import type { AuditKind, AuditRow, OpenAdmission } from './records.ts';
import type { VerifyResult } from './verify-chain.ts';

export type AuditBackend = 'postgres' | 'pglite';

export interface AuditQuery {
  /** Rows of this chain only. */
  chain?: string;
  task_id?: string;
  session_id?: string;
  kind?: AuditKind;
  /** Inclusive lower bound on `at`. */
  since?: Date;
  /** Exclusive upper bound on `at`. */
  until?: Date;
  /**
   * Paging cursor. Rows come in (chain, seq) order; with `after_chain` only rows after the pair
   * (after_chain, after_seq), otherwise only rows with a larger seq (exact within one chain).
   */
  after_seq?: number;
  after_chain?: string;
  limit: number;
}

/** Exactly one scope: a task, a session, or the half-open range [from_at, to_at). */
export type HoldScope = { task_id: string } | { session_id: string } | { from_at: Date; to_at: Date };

export type NewHold = HoldScope & { reason: string; created_by: string };

export interface AuditHold {
  id: string;
  task_id: string | null;
  session_id: string | null;
  from_at: Date | null;
  to_at: Date | null;
  reason: string;
  created_by: string;
  created_at: Date;
}

export interface PurgeRequest {
  /**
   * Rows with `at` before this instant may go, if no hold covers them. The database refuses a
   * cutoff newer than now() - audit_settings.retention_days (its own clock).
   */
  older_than: Date;
  actor: string;
  correlation_id?: string;
  /** When the purge row is stamped; its place in the chain is after the database's head. */
  at: Date;
}

/** The retention floor the database enforces, and whether this connection could set it (owner). */
export interface RetentionSetting {
  retention_days: number | null;
  /** True when this connection may change it (the owner role; always on PGlite). */
  owner: boolean;
}

export interface PurgeOutcome {
  /** The retention_purge control row, committed in the same transaction as the deletion. */
  row: AuditRow;
  deleted_rows: number;
  /** Last deleted seq (the new anchor), null when nothing could be deleted. */
  anchor_seq: number | null;
}

export interface AuditStore {
  readonly backend: AuditBackend;
  /** The chain this store appends to and purges (hash-chain.ts DEFAULT_CHAIN unless a replica's). */
  readonly chain: string;
  /** The last committed row of this store's chain: seq and hash (seq 0 and the genesis hash when empty). */
  head(): Promise<ChainHead>;
  /** Inserts already-chained rows (from chainRecords) in one statement: all of them or none. */
  append(rows: readonly ChainedRow[]): Promise<void>;
  query(query: AuditQuery): Promise<AuditRow[]>;
  /** Verifies every chain registered in the database (not only this store's). */
  verify(): Promise<VerifyResult>;
  /** Deletes the unheld prefix of this store's chain older than `older_than` and appends the purge row, atomically. */
  purgePrefix(request: PurgeRequest): Promise<PurgeOutcome>;
  /**
   * Sets the database's retention floor to `days` (null: no purge allowed) when this connection
   * is the owner; otherwise leaves it. Answers the floor in force either way.
   */
  syncRetention(days: number | null): Promise<RetentionSetting>;
  /**
   * Admissions of this store's chain with no later terminal (or admission) row for the same task
   * in any chain (a survivor records a lost replica's tasks in its own), in seq order.
   */
  openAdmissions(afterSeq: number, limit: number): Promise<OpenAdmission[]>;
  addHold(hold: NewHold): Promise<AuditHold>;
  /** False when no hold has that id. */
  removeHold(id: string): Promise<boolean>;
  listHolds(): Promise<AuditHold[]>;
  close(): Promise<void>;
}
