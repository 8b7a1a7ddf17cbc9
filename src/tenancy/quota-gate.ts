// The shell around core's quota check (ORCH-1210..1214): reads each subject's standing for
// admission (counters + session counts), writes settled budget usage behind to the database,
// and restores the current periods' totals at start so a restart does not reset a budget.

import type { Logger } from 'pino';
import type { Clock } from '../core/ports.ts';
import type { QuotaCounters, SessionStore } from '../core/state-ports.ts';
import { periodBounds, type QuotaLimits } from '../core/tenancy/limits.ts';
import type { Principal } from '../core/tenancy/principal.ts';
import type { QuotaReservation, QuotaStanding, QuotaSubject, QuotaUsage } from '../core/tenancy/quota.ts';
import type { LifecycleObserver } from '../core/observer.ts';
import type { TaskQuotas } from '../orchestration/task-service.ts';
import type { TenantDirectory } from './directory.ts';
import type { TenantStore } from './store.ts';

export interface QuotaGateDeps {
  directory: TenantDirectory;
  counters: QuotaCounters;
  sessions: SessionStore;
  store: TenantStore;
  clock: Clock;
  logger: Pick<Logger, 'warn'>;
  /** sessions.ttl_ms: the TTL of a session created without one. */
  defaultSessionTtlMs: number;
}

/** Sessions are counted per tenant; a key's own session cap counts its tenant's sessions too. */
const ownerOfSubject = (subject: string, tenant: string) => (subject.startsWith('tenant:') ? subject.slice(7) : tenant);

type Owner = Pick<Principal, 'tenant' | 'keyId'>;

/** One subject's standing whose usage (counters and sessions) is read on first access and kept. */
class SubjectStanding implements QuotaSubject {
  readonly subject: string;
  readonly limits: QuotaLimits;
  readonly #deps: Pick<QuotaGateDeps, 'counters' | 'sessions'>;
  readonly #now: number;
  readonly #tenant: string;
  #usage: QuotaUsage | undefined;

  constructor(deps: Pick<QuotaGateDeps, 'counters' | 'sessions'>, subject: string, limits: QuotaLimits, now: number, tenant: string) {
    this.#deps = deps;
    this.subject = subject;
    this.limits = limits;
    this.#now = now;
    this.#tenant = tenant;
  }

  get usage(): QuotaUsage {
    const { counters, sessions } = this.#deps;
    return (this.#usage ??= { ...counters.usage(this.subject, this.#now, this.limits.budget?.period), sessions: sessions.ownedBy(ownerOfSubject(this.subject, this.#tenant)) });
  }
}
type Actual = { tokens: number; budgetTokens: number; budgetCost: number; wasQueued: boolean };

export class QuotaGate implements TaskQuotas {
  readonly #deps: QuotaGateDeps;
  /** Reservations of admitted, unfinished tasks; `started` once they leave the queue. */
  readonly #held = new Map<string, { reservation: QuotaReservation; started: boolean }>();

  constructor(deps: QuotaGateDeps) {
    this.#deps = deps;
  }

  /**
   * Every subject's standing now: what `admit` step 7 reads, in the synchronous step that took
   * it. A subject's usage is read when first asked for: a tenant without limits has none read
   * when its request is refused further on, from a full queue (issue 14).
   */
  standing(owner: Owner): QuotaStanding {
    const now = this.#deps.clock.now();
    const subjects: QuotaSubject[] = this.#deps.directory.subjectsOf(owner).map(({ subject, limits }) => new SubjectStanding(this.#deps, subject, limits, now, owner.tenant));
    return { now, subjects };
  }

  reserve(taskId: string, reservation: QuotaReservation): void {
    this.#deps.counters.reserve(reservation);
    this.#held.set(taskId, { reservation, started: false });
  }

  release(taskId: string): void {
    const held = this.#held.get(taskId);
    if (!held) return;
    this.#held.delete(taskId);
    this.#deps.counters.release(held.reservation);
  }

  /** Counters trued up in memory now; the period totals written behind (a failed write is logged). */
  settle(taskId: string, actual: Actual): void {
    const held = this.#held.get(taskId);
    if (!held) return;
    this.#held.delete(taskId);
    // A task placed and then ended counts as having left the queue even when `wasQueued` says it waited again.
    this.#deps.counters.settle(held.reservation, { ...actual, wasQueued: !held.started });
    for (const { subject, periodStartMs } of held.reservation.subjects) {
      if (periodStartMs === undefined || (actual.budgetTokens === 0 && actual.budgetCost === 0)) continue;
      this.#deps.store
        .addUsage({ subject, period_start: new Date(periodStartMs), tokens: actual.budgetTokens, cost: actual.budgetCost })
        .catch((error: unknown) => this.#deps.logger.warn({ err: String(error), subject }, 'tenant usage not persisted; this period restarts lower after a restart'));
    }
  }

  /** A session a task creates belongs to its tenant and lives at most the tenant's (and key's) max TTL. */
  sessionCreate(owner: Owner): { owner: string; ttl_ms?: number } {
    const caps = this.#deps.directory.subjectsOf(owner).map((s) => s.limits.max_session_ttl_ms).filter((ms): ms is number => ms !== undefined);
    if (caps.length === 0) return { owner: owner.tenant };
    return { owner: owner.tenant, ttl_ms: Math.min(this.#deps.defaultSessionTtlMs, ...caps) };
  }

  /** The default TTL of a session created directly by this owner (the config default within its caps). */
  sessionTtlCaps(owner: Owner): number[] {
    return this.#deps.directory.subjectsOf(owner).map((s) => s.limits.max_session_ttl_ms).filter((ms): ms is number => ms !== undefined);
  }

  /** Placement is the task leaving its queue: its queued count goes back (once). */
  readonly observer: LifecycleObserver = {
    placed: (fact) => {
      const held = this.#held.get(fact.task_id);
      if (!held || held.started) return;
      held.started = true;
      this.#deps.counters.started(held.reservation);
    },
  };

  /** Loads the totals of every period that can still be current (days and months since this month began). */
  async restore(): Promise<number> {
    const since = new Date(periodBounds('month', this.#deps.clock.now()).startMs);
    const rows = await this.#deps.store.usageSince(since);
    for (const row of rows) this.#deps.counters.restorePeriod(row.subject, row.period_start.getTime(), { tokens: row.tokens, cost: row.cost });
    return rows.length;
  }
}
