// What the gateway holds: the audit recorder port (admission commit point + lifecycle observer
// + telemetry counters + shutdown), its error, and the no-op recorder used when audit is off.

import type { AdmissionRecorder, LifecycleObserver } from '../core/observer.ts';
import { GENESIS_HEAD, type ChainHead } from './hash-chain.ts';
import type { OpenAdmission } from './records.ts';

export interface AuditWriterOptions {
  batch_max_rows: number;
  batch_max_ms: number;
  buffer_max_rows: number;
  fail_closed: boolean;
}

export interface PurgeResult {
  deleted_rows: number;
  /** Last deleted seq, now the chain's anchor; null when nothing could be deleted. */
  anchor_seq: number | null;
  /** seq of the retention_purge row that records the purge. */
  seq: number;
}

export interface AuditRecorder extends AdmissionRecorder, LifecycleObserver {
  /** Records dropped (buffer full, store down in fail-open, closed): each is an audit gap. */
  gaps(): number;
  /** Age of the oldest record not yet committed; 0 when everything is stored. */
  lagMs(): number;
  /** Records buffered or in flight. */
  pending(): number;
  /** Batches committed so far. */
  commits(): number;
  /** The last committed row's seq and hash, as this writer knows it (read at scrape time). */
  head(): ChainHead;
  /**
   * Records the terminal `abandoned` row for a task a previous run left open (reconcile-abandoned.ts),
   * or, with `lostReplica`, that a lost replica left open: the row goes into this writer's chain and
   * names the lost replica.
   */
  abandoned(open: OpenAdmission, lostReplica?: string): void;
  flush(): Promise<void>;
  /** Retention: deletes the unheld prefix older than `olderThan`, recorded in the chain. */
  purge(olderThan: Date, actor: string, correlationId?: string): Promise<PurgeResult>;
  close(timeoutMs?: number): Promise<void>;
}

/** Rejection of commitAdmission; the gateway renders it as 503 AUDIT_UNAVAILABLE. */
export class AuditUnavailableError extends Error {
  readonly code = 'AUDIT_UNAVAILABLE';

  constructor(message: string) {
    super(message);
    this.name = 'AuditUnavailableError';
  }
}

/** audit.backend: off. Always accepts and records nothing; nothing is a gap because nothing is promised. */
export function noopRecorder(): AuditRecorder {
  return {
    accepting: () => true,
    commitAdmission: () => Promise.resolve(),
    gaps: () => 0,
    lagMs: () => 0,
    pending: () => 0,
    commits: () => 0,
    head: () => GENESIS_HEAD,
    abandoned: () => undefined,
    flush: () => Promise.resolve(),
    purge: () => Promise.reject(new AuditUnavailableError('audit is off')),
    close: () => Promise.resolve(),
  };
}
