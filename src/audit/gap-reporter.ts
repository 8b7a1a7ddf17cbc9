// Counts audit records that could not be stored and says so loudly without flooding the log:
// the first gap of a run is logged at once, then at most one summary per interval.

export interface AuditLogger {
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

const SUMMARY_INTERVAL_MS = 5_000;

export class GapReporter {
  readonly #logger: AuditLogger;
  readonly #monotonic: () => number;
  #total = 0;
  #sinceLastLog = 0;
  #lastLogMs = Number.NEGATIVE_INFINITY;

  constructor(logger: AuditLogger, monotonic: () => number) {
    this.#logger = logger;
    this.#monotonic = monotonic;
  }

  get total(): number {
    return this.#total;
  }

  /** One record that will never reach the audit log. */
  record(reason: string, kind: string, taskId: string | null): void {
    this.#total += 1;
    this.#sinceLastLog += 1;
    const now = this.#monotonic();
    if (now - this.#lastLogMs < SUMMARY_INTERVAL_MS) return;
    this.#logger.error(
      { audit_gap: true, reason, kind, task_id: taskId, dropped_since_last_report: this.#sinceLastLog, dropped_total: this.#total },
      'AUDIT GAP: records are being dropped and will never be in the audit log',
    );
    this.#sinceLastLog = 0;
    this.#lastLogMs = now;
  }
}
