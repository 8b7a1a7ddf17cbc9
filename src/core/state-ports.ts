// Ports for the state that a second gateway replica would have to share (ARCHITECTURE §9):
// the per-pool queue with its capacity, each task's event log, idempotency keys and sessions.
// The embedded default implements them in memory (FairQueue, TaskEventLog, IdempotencyIndex,
// MemorySessionStore); a shared backend implements the same contracts. They are synchronous
// because the in-process admission is one synchronous snapshot → admit → apply step, which is
// what makes it exact; a networked backend must keep that atomicity (one script per step).

import type { OfferResult, QueueEntry, FairQueueOptions } from './queue/fair-queue.ts';
import type { IdempotencyCheck } from './admission/idempotency.ts';
import type { EventDataOf, Priority, TaskEvent, TaskEventName } from './task/events.ts';
import type { Result } from './errors.ts';
import type { BudgetPeriod } from './tenancy/limits.ts';
import type { QuotaReservation, QuotaUsage } from './tenancy/quota.ts';
import type { Affinity, SessionCreate, SessionStanding, SessionView, TurnUsage } from './session/session-record.ts';

/** One pool's bounded two-class wait queue and its full-queue policy. */
export interface TaskQueue<T extends QueueEntry> extends Iterable<T> {
  readonly size: number;
  sizeOf(priority: Priority): number;
  has(id: string): boolean;
  offer(entry: T): OfferResult<T>;
  take(): T | undefined;
  peek(): T | undefined;
  remove(id: string): T | undefined;
  /** Puts a drop-lru victim back where it was (its evicting admission was withdrawn or found room). */
  restore(victim: T): void;
  /** 0-based place in dispatch order, or undefined when not queued. */
  position(id: string): number | undefined;
  setOptions(opts: FairQueueOptions): void;
}

export type LogListener = (frame: string, event: TaskEvent) => void;

/** One task's ordered events; closed by its terminal event (later appends are dropped). */
export interface EventLog {
  readonly lastSeq: number;
  readonly terminal: TaskEvent | undefined;
  readonly listenerCount: number;
  /** Estimated heap bytes the log holds (retention bounds it by `server.retention_max_bytes`). */
  readonly bytes: number;
  append<E extends TaskEventName>(event: E, data: EventDataOf<E>): number;
  /** Replays the events with seq > afterSeq, then delivers live ones; returns the unsubscribe. */
  follow(afterSeq: number, listener: LogListener): () => void;
  since(afterSeq: number): readonly TaskEvent[];
  close(): void;
}

/** Client task_id → body digest and first answer (ARCHITECTURE §3 step 3). */
export interface IdempotencyStore {
  check(taskId: string, digest: string): IdempotencyCheck;
  remember(taskId: string, digest: string, answer: unknown): void;
  forget(taskId: string): void;
}

/** Session metadata, budgets, affinity, and turns held by admissions not yet committed. */
export interface SessionStore {
  readonly size: number;
  create(req: SessionCreate): Result<SessionView>;
  view(id: string): Result<SessionView>;
  /** Where a new turn of `id` stands, counting held turns: admission reads this. */
  standing(id: string): SessionStanding;
  /** Counts a turn admitted but not yet committed, so concurrent admissions see it. */
  hold(id: string, maxTokens: number): void;
  /** Gives a hold back (the admission was refused or rolled back): nothing is left behind. */
  release(id: string, maxTokens: number): void;
  /** Turns a hold into a counted turn after the commit (creates the session when new). */
  confirmTurn(id: string, maxTokens: number, create?: { owner?: string; ttl_ms?: number }): Result<{ affinity?: Affinity }>;
  /** The owner of a live session (undefined: unknown, expired, or created without one). */
  ownerOf(id: string): string | undefined;
  /** Live sessions of one owner, and when the soonest of them expires (tenant session caps). */
  ownedBy(owner: string): { count: number; nextExpiryMs?: number };
  endTurn(id: string, usage: TurnUsage): void;
  /** Gives back the turn of a task that ended before it ran. */
  cancelTurn(id: string): void;
  delete(id: string): boolean;
  sweep(): number;
}

/**
 * Rate and quota counters per subject (`tenant:<id>`, `key:<id>`), ORCH-1213. Admission reads
 * `usage`, then `reserve`s in the same synchronous step; the end of the task `settle`s with the
 * real counts (or `release`s a reservation whose admission was withdrawn). A shared backend
 * keeps reserve-then-settle atomic per step (one server-side script for check-and-reserve over
 * all subjects of a request, one for settle), so limits stay exact across gateway replicas.
 */
export interface QuotaCounters {
  usage(subject: string, now: number, period?: BudgetPeriod): QuotaUsageCounts;
  reserve(reservation: QuotaReservation): void;
  /** Withdrawn before it ran: every count the reservation took is given back. */
  release(reservation: QuotaReservation): void;
  /** The task left its queue for a replica (queued → running). */
  started(reservation: QuotaReservation): void;
  /** The task ended: in-flight (and queued when it never ran) given back, tokens and cost trued up. */
  settle(reservation: QuotaReservation, actual: { tokens: number; budgetTokens: number; budgetCost: number; wasQueued: boolean }): void;
  /** Seeds a period's totals (restored from the database after a restart). */
  restorePeriod(subject: string, startMs: number, totals: { tokens: number; cost: number }): void;
}

/** QuotaUsage without the session counts, which the SessionStore owns. */
export type QuotaUsageCounts = Omit<QuotaUsage, 'sessions'>;
