// The audit writer: turns lifecycle facts into hash-chained rows and group-commits them, one
// batch in flight at a time, so seq order is enqueue order. It never blocks its callers: facts
// are buffered (bounded), and only commitAdmission waits, because the 202 depends on it.
// It owns the head of its store's chain (one per gateway replica on a shared database); after any
// failure it reads the head back from the store.

import type { AdmittedFact, ControlFact, PlacedFact, RejectedFact, TerminalFact } from '../core/observer.ts';
import type { Clock } from '../core/ports.ts';
import { systemClock } from '../system-clock.ts';
import { GapReporter, type AuditLogger } from './gap-reporter.ts';
import { chainRecords, type ChainHead } from './hash-chain.ts';
import { abandonedRecord, admissionRecord, controlRecord, placementRecord, rejectionRecord, terminalRecord, type AuditRecord, type OpenAdmission } from './records.ts';
import type { AuditStore } from './store.ts';
import { PumpScheduler } from './pump-scheduler.ts';
import { RetryBackoff } from './retry-backoff.ts';
import { AuditUnavailableError, type AuditRecorder, type AuditWriterOptions, type PurgeResult } from './recorder.ts';
import { answerUnstored, settleStored, type Entry, type PurgeOp, type Unresolved, type Waiter } from './writer-entries.ts';

export interface AuditWriterDeps {
  store: AuditStore;
  logger: AuditLogger;
  clock?: Clock;
  retryInitialMs?: number;
  retryMaxMs?: number;
}

export class AuditWriter implements AuditRecorder {
  readonly #store: AuditStore;
  readonly #logger: AuditLogger;
  readonly #clock: Clock;
  readonly #options: AuditWriterOptions;
  readonly #gaps: GapReporter;
  readonly #backoff: RetryBackoff;
  #head: ChainHead;
  #queue: Entry[] = [];
  #inFlight: Entry[] = [];
  #unresolved: Unresolved | null = null;
  #ops: PurgeOp[] = [];
  #flushWaiters: { through: number; resolve(): void }[] = [];
  #busy = false;
  #failing = false;
  readonly #scheduler = new PumpScheduler((idle) => this.#pump(idle));
  #closed = false;
  /** Set once close() is done: no further pumps, timers or retries. */
  #stopped = false;
  #nextOrdinal = 1;
  #commits = 0;
  /** Queued rows someone waits on (admissions): while there are any, the writer never lingers. */
  #waiting = 0;

  private constructor(options: AuditWriterOptions, deps: AuditWriterDeps, head: ChainHead) {
    this.#options = options;
    this.#store = deps.store;
    this.#logger = deps.logger;
    this.#clock = deps.clock ?? systemClock;
    this.#gaps = new GapReporter(deps.logger, () => this.#clock.monotonic());
    this.#backoff = new RetryBackoff(deps.retryInitialMs ?? 50, deps.retryMaxMs ?? 2_000);
    this.#head = head;
  }

  /** Reads the chain head back from the store, so a restarted gateway continues the chain. */
  static async start(options: AuditWriterOptions, deps: AuditWriterDeps): Promise<AuditWriter> {
    return new AuditWriter(options, deps, await deps.store.head());
  }

  accepting(): boolean {
    return !this.#closed && !this.#failing && this.#unresolved === null && this.#queue.length < this.#options.buffer_max_rows;
  }

  commitAdmission(fact: AdmittedFact): Promise<void> {
    const record = admissionRecord(fact, this.#at());
    if (!this.accepting()) {
      if (this.#options.fail_closed) return Promise.reject(this.#unavailable());
      this.#enqueue(record, null);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.#enqueue(record, { resolve, reject }));
  }

  // Admission rows come only from commitAdmission; there is deliberately no `admitted` method,
  // so a writer registered as an observer too cannot record an admission twice.
  rejected(fact: RejectedFact): void { this.#enqueue(rejectionRecord(fact, this.#at()), null); }
  placed(fact: PlacedFact): void { this.#enqueue(placementRecord(fact, this.#at()), null); }
  finished(fact: TerminalFact): void { this.#enqueue(terminalRecord(fact, this.#at()), null); }
  control(fact: ControlFact): void { this.#enqueue(controlRecord(fact, this.#at()), null); }
  abandoned(open: OpenAdmission, lostReplica?: string): void { this.#enqueue(abandonedRecord(open, this.#at(), lostReplica), null); }

  gaps(): number { return this.#gaps.total; }
  commits(): number { return this.#commits; }
  head(): ChainHead { return this.#head; }
  pending(): number { return this.#queue.length + this.#inFlight.length + (this.#unresolved?.entries.length ?? 0); }

  lagMs(): number {
    const oldest = this.#unresolved?.entries[0] ?? this.#inFlight[0] ?? this.#queue[0];
    return oldest === undefined ? 0 : Math.max(0, this.#clock.monotonic() - oldest.enqueuedMs);
  }

  /** Resolves once everything recorded before the call is committed (or answered as lost). */
  flush(): Promise<void> {
    const through = this.#nextOrdinal - 1;
    if (this.#settledThrough() >= through) return Promise.resolve();
    return new Promise((resolve) => {
      this.#flushWaiters.push({ through, resolve });
      this.#kick(true);
    });
  }

  purge(olderThan: Date, actor: string, correlationId?: string): Promise<PurgeResult> {
    if (this.#closed) return Promise.reject(this.#unavailable());
    return new Promise((resolve, reject) => {
      this.#ops.push({ afterOrdinal: this.#nextOrdinal - 1, olderThan, actor, correlationId, resolve, reject });
      this.#kick(true);
    });
  }

  /** Stops taking records and drains what is buffered; what cannot be stored in time is a gap. */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), timeoutMs); });
    const outcome = await Promise.race([this.flush().then(() => 'drained' as const), deadline]);
    clearTimeout(timer);
    for (const op of this.#ops.splice(0)) op.reject(this.#unavailable());
    if (outcome === 'late') this.#abandon();
    this.#stopped = true;
    this.#scheduler.cancel();
  }

  #abandon(): void {
    const lost = [...(this.#unresolved?.entries ?? []), ...this.#inFlight, ...this.#queue.splice(0)];
    this.#unresolved = null;
    this.#waiting = 0;
    this.#logger.error({ audit_gap: true, records: lost.length }, 'audit writer closed before the store took every record');
    for (const entry of lost) {
      entry.waiter?.reject(this.#unavailable());
      entry.waiter = null;
      if (!entry.refused) this.#gaps.record('closed_before_commit', entry.record.kind, entry.record.task_id);
    }
    for (const waiter of this.#flushWaiters.splice(0)) waiter.resolve();
  }

  #at(): Date {
    return new Date(Math.trunc(this.#clock.now()));
  }

  #unavailable(): AuditUnavailableError {
    if (this.#closed) return new AuditUnavailableError('the audit writer is closed');
    if (this.#queue.length >= this.#options.buffer_max_rows) return new AuditUnavailableError('the audit buffer is full');
    return new AuditUnavailableError('the audit store cannot accept writes');
  }

  #enqueue(record: AuditRecord, waiter: Waiter | null): void {
    if (this.#closed || this.#queue.length >= this.#options.buffer_max_rows) {
      this.#gaps.record(this.#closed ? 'writer_closed' : 'buffer_full', record.kind, record.task_id);
      waiter?.reject(this.#unavailable());
      return;
    }
    this.#queue.push({ ordinal: this.#nextOrdinal++, record, enqueuedMs: this.#clock.monotonic(), waiter, refused: false });
    if (waiter !== null) {
      this.#waiting += 1;
      // Someone waits on this row (an admission: its first token is held for it). An idle
      // writer commits it now, with whatever lingers; a busy one takes it next, lingering never.
      if (!this.#busy) this.#pump(true);
      return;
    }
    // Nobody waits on this row: it waits up to batch_max_ms for company (a task's placement
    // and terminal rows, the next admission), so a lone task costs fewer commits.
    if (this.#queue.length >= this.#options.batch_max_rows || this.#options.batch_max_ms === 0) this.#kick(true);
    else if (!this.#busy) this.#scheduler.linger(this.#options.batch_max_ms);
  }

  /** Schedules a pump; `urgent` overrides a pending linger timer. */
  #kick(urgent: boolean): void {
    if (!this.#busy) this.#scheduler.soon(urgent);
  }

  /** Takes the next batch off the queue, keeping count of the waited-on rows it holds. */
  #take(count: number): Entry[] {
    const batch = this.#queue.splice(0, count);
    for (const entry of batch) if (entry.waiter !== null) this.#waiting -= 1;
    return batch;
  }

  #pump(idle: boolean): void {
    if (this.#busy) return;
    this.#scheduler.cancel();
    const now = this.#clock.monotonic();
    if (this.#stopped) return;
    if (this.#failing && this.#backoff.waitMs(now) > 0) return this.#scheduler.after(this.#backoff.waitMs(now));
    if (this.#unresolved !== null) return void this.#run(() => this.#reconcile());
    const eligible = this.#eligibleRows();
    const oldest = this.#queue[0];
    if (eligible > 0 && oldest !== undefined) {
      const age = now - oldest.enqueuedMs;
      const max = this.#options.batch_max_rows;
      const due = idle || this.#waiting > 0 || this.#failing || this.#closed || eligible >= max || age >= this.#options.batch_max_ms
        || this.#flushWaiters.length > 0 || this.#ops.length > 0;
      if (!due) return this.#scheduler.after(this.#options.batch_max_ms - age);
      return void this.#run(() => this.#commit(this.#take(Math.min(eligible, max))));
    }
    const op = this.#ops.shift();
    if (op !== undefined) return void this.#run(() => this.#purgeNow(op));
    // Nothing to write, yet admissions are refused until the store is known to be back.
    if (this.#failing) void this.#run(() => this.#probe());
  }

  async #probe(): Promise<void> {
    let head: ChainHead;
    try {
      head = await this.#store.head();
    } catch (error) {
      return this.#scheduleRetry(error);
    }
    this.#adoptHead(head);
    this.#recovered();
  }

  /** Rows that may go into the next batch: none recorded after a queued purge. */
  #eligibleRows(): number {
    const op = this.#ops[0];
    if (op === undefined) return this.#queue.length;
    const after = this.#queue.findIndex((entry) => entry.ordinal > op.afterOrdinal);
    return after === -1 ? this.#queue.length : after;
  }

  async #run(work: () => Promise<void>): Promise<void> {
    this.#busy = true;
    try {
      await work();
    } catch (error) {
      this.#logger.error({ err: String(error) }, 'audit writer step failed unexpectedly');
    } finally {
      this.#busy = false;
      this.#settleFlushWaiters();
      this.#pump(false);
    }
  }

  async #commit(entries: Entry[]): Promise<void> {
    this.#inFlight = entries;
    const expect = chainRecords(this.#head, entries.map((entry) => entry.record), this.#store.chain);
    try {
      await this.#store.append(expect.rows);
    } catch (error) {
      this.#inFlight = [];
      this.#enterFailing(error);
      this.#unresolved = { entries, expect: expect.head, answered: false };
      await this.#reconcile();
      return;
    }
    this.#inFlight = [];
    this.#committed(entries, expect.head);
  }

  #committed(entries: Entry[], head: ChainHead): void {
    this.#head = head;
    this.#commits += 1;
    const refusedButStored = settleStored(entries);
    if (refusedButStored > 0) {
      this.#logger.warn({ records: refusedButStored }, 'audit: admissions answered 503 were stored after all (commit outcome was unknown); those tasks never ran');
    }
    this.#recovered();
  }

  #recovered(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.#backoff.succeeded();
    this.#logger.warn({ head_seq: this.#head.seq, gaps: this.#gaps.total }, 'audit store recovered; writes resumed');
  }

  #adoptHead(head: ChainHead): void {
    if (head.seq !== this.#head.seq || head.hash !== this.#head.hash) {
      this.#logger.error({ expected_seq: this.#head.seq, stored_seq: head.seq }, 'audit chain head moved under the writer; continuing from the stored head');
    }
    this.#head = head;
  }

  /** Finds out whether the failed batch was stored (a lost acknowledgement) and goes on from the stored head. */
  async #reconcile(): Promise<void> {
    const pending = this.#unresolved;
    if (pending === null) return;
    let stored: boolean;
    let head: ChainHead;
    try {
      const [row] = await this.#store.query({ chain: this.#store.chain, after_seq: pending.expect.seq - 1, limit: 1 });
      stored = row !== undefined && row.seq === pending.expect.seq && row.hash === pending.expect.hash;
      head = await this.#store.head();
    } catch (error) {
      if (!pending.answered) answerUnstored(pending, this.#options.fail_closed);
      this.#scheduleRetry(error);
      return;
    }
    this.#unresolved = null;
    if (stored) return this.#committed(pending.entries, head);
    this.#adoptHead(head);
    if (!pending.answered) answerUnstored(pending, this.#options.fail_closed);
    this.#queue.unshift(...pending.entries.filter((entry) => !entry.refused));
    this.#scheduleRetry(null);
  }

  async #purgeNow(op: PurgeOp): Promise<void> {
    try {
      const request = { older_than: op.olderThan, actor: op.actor, at: this.#at() };
      const outcome = await this.#store.purgePrefix(op.correlationId === undefined ? request : { ...request, correlation_id: op.correlationId });
      this.#head = { seq: outcome.row.seq, hash: outcome.row.hash };
      op.resolve({ deleted_rows: outcome.deleted_rows, anchor_seq: outcome.anchor_seq, seq: outcome.row.seq });
    } catch (error) {
      op.reject(error instanceof Error ? error : new Error(String(error)));
      // The purge may have committed unseen; a stale head is corrected by the next append's reconcile.
      this.#head = await this.#store.head().catch(() => this.#head);
    }
  }

  #enterFailing(error: unknown): void {
    if (!this.#failing) {
      this.#logger.error({ err: String(error), pending: this.pending() }, 'audit store failed; admissions are refused while fail_closed is on');
    }
    this.#failing = true;
  }

  #scheduleRetry(error: unknown): void {
    this.#failing = true;
    const retryInMs = this.#backoff.failed(this.#clock.monotonic());
    if (error !== null) this.#logger.warn({ err: String(error), retry_in_ms: retryInMs }, 'audit store still unavailable');
  }

  #settledThrough(): number {
    const first = this.#unresolved?.entries[0] ?? this.#inFlight[0] ?? this.#queue[0];
    return first === undefined ? this.#nextOrdinal - 1 : first.ordinal - 1;
  }

  #settleFlushWaiters(): void {
    if (this.#flushWaiters.length === 0) return;
    const settled = this.#settledThrough();
    this.#flushWaiters = this.#flushWaiters.filter((waiter) => (waiter.through <= settled ? (waiter.resolve(), false) : true));
  }
}
