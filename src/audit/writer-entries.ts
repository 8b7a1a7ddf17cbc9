// What the audit writer keeps per record and per pending purge, and how the callers waiting on
// a batch are answered once its fate is known: stored, or not stored (fail-closed refuses the
// admission and marks it so it is never written later; fail-open lets the task go on).

import type { ChainHead } from './hash-chain.ts';
import type { AuditRecord } from './records.ts';
import { AuditUnavailableError, type PurgeResult } from './recorder.ts';

export interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

export interface Entry {
  /** Recording order; flush() waits on it. */
  ordinal: number;
  record: AuditRecord;
  enqueuedMs: number;
  waiter: Waiter | null;
  /** Its admission was answered "not stored" (fail-closed): it must never be committed later. */
  refused: boolean;
}

/** A batch whose commit failed, with the head it would have produced if it was stored anyway. */
export interface Unresolved {
  entries: Entry[];
  expect: ChainHead;
  /** Its waiters were already answered "not stored". */
  answered: boolean;
}

export interface PurgeOp {
  /** Rows recorded up to this ordinal are committed before the purge runs. */
  afterOrdinal: number;
  olderThan: Date;
  actor: string;
  correlationId: string | undefined;
  resolve(result: PurgeResult): void;
  reject(error: Error): void;
}

/** Answers the waiters of a stored batch; returns how many refused admissions were stored after all. */
export function settleStored(entries: readonly Entry[]): number {
  let refusedButStored = 0;
  for (const entry of entries) {
    if (entry.refused) refusedButStored += 1;
    entry.waiter?.resolve();
    entry.waiter = null;
  }
  return refusedButStored;
}

export function answerUnstored(pending: Unresolved, failClosed: boolean): void {
  pending.answered = true;
  for (const entry of pending.entries) {
    if (entry.waiter === null) continue;
    if (failClosed) {
      entry.refused = true;
      entry.waiter.reject(new AuditUnavailableError('the audit store did not confirm the admission record'));
    } else {
      entry.waiter.resolve();
    }
    entry.waiter = null;
  }
}
