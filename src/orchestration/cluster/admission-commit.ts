// The commit point of a shared admission: the audit row first, then the session turn counted,
// then the verdict a claimer of the task waits for (CommitVerdicts). A refusal on the way
// withdraws the task from the shared queue and gives its session hold back.

import { fail, ok, orchError, type ErrorCode, type OrchError, type Result } from '../../core/errors.ts';
import type { AdmittedFact } from '../../core/observer.ts';
import type { RedisPoolQueue } from '../../state/redis/pool-queue.ts';
import type { RedisSessionStore } from '../../state/redis/session-store.ts';
import { StateError, toOrchError } from '../../state/state-errors.ts';
import type { TaskOwner } from '../task.ts';
import { ADMISSION_COMMIT_TIMEOUT_MS, withTimeout, type TaskServiceDeps } from '../task-service.ts';
import type { ClusterState } from './cluster-state.ts';
import type { CommitVerdicts } from './commit-verdicts.ts';
import { specFacts, type TaskSpec } from './task-spec.ts';

export interface AdmissionCommitDeps extends Pick<TaskServiceDeps, 'config' | 'clock' | 'observer' | 'recorder' | 'logger'> {
  cluster: ClusterState;
  /** The sessions shared by the replicas, built with `replicaId` = this replica (its holds are tagged so). */
  sessions: RedisSessionStore;
  /** How a session this owner's task creates is made: its owner, and the TTL the tenant allows. */
  sessionCreate(owner: TaskOwner): { owner: string; ttl_ms?: number };
  verdicts: Pick<CommitVerdicts, 'publish'>;
  /** Holds a background write until the service settles; its failure is logged here. */
  track(promise: Promise<unknown>): void;
}

export class AdmissionCommit {
  readonly #deps: AdmissionCommitDeps;

  constructor(deps: AdmissionCommitDeps) {
    this.#deps = deps;
  }

  /**
   * The commit point, as in memory: the row is committed before anything of the task reaches a
   * client; then its session turn is counted (confirmTurn), before the verdict, so the task's end
   * on whichever replica claims it settles a counted turn. A refused commit (audit.fail_closed)
   * withdraws the task from the shared queue, or cancels it where it already runs, and gives its
   * session hold back. A turn refused in the commit window (the session expired, was deleted, or
   * a concurrent turn used its budget) refuses the admission with the session's error; its
   * admission row gets a `failed` row with that code. (In memory the admission answers and the
   * task ends at once with that error.)
   */
  async commit(spec: TaskSpec, fact: AdmittedFact, admission: { queue: RedisPoolQueue; settle: (committed: boolean) => void; claimedHere: boolean }): Promise<OrchError | undefined> {
    const deps = this.#deps;
    const { queue, settle, claimedHere } = admission;
    const committed = deps.recorder.commitAdmission(fact);
    // The verdict for a replica that claimed the task before the commit landed (it waits for it).
    // (This replica's own claim waits on `settle`, which the caller gives after the `admitted` fact.)
    const marker = (ok: boolean): Promise<unknown> => deps.verdicts.publish(spec.id, ok).catch((error: unknown) => {
        deps.logger.warn({ err: String(error), task_id: spec.id }, 'admission verdict not written; a replica that claimed the task drops it after the commit timeout');
      });
    const closeRow = (code: ErrorCode) => deps.observer.finished?.({ ...specFacts(spec), state: 'failed', error_code: code, tokens_out: 0, queue_wait_ms: 0, decode_time_ms: 0, e2e_ms: Math.max(0, deps.clock.now() - spec.createdAt) });
    try {
      await withTimeout(committed, ADMISSION_COMMIT_TIMEOUT_MS, deps.clock);
    } catch (err) {
      if (deps.config.audit.fail_closed) {
        settle(false);
        await marker(false);
        committed.then(() => closeRow('AUDIT_UNAVAILABLE'), () => {});
        // Claimed meanwhile (here or elsewhere), it is not withdrawn: its claimer drops it on the verdict.
        await queue.withdraw(spec.id, deps.cluster.replicaId).catch(() => false);
        await this.#releaseHold(spec);
        deps.logger.error({ err, task_id: spec.id }, 'admission not recorded; refused (audit.fail_closed)');
        return orchError('AUDIT_UNAVAILABLE', 'the audit store could not record the admission', { retry_after_ms: 1_000 });
      }
      deps.logger.error({ err, task_id: spec.id }, 'admission not recorded; serving anyway (audit.fail_closed=false)');
    }
    const turn = await this.#confirmTurn(spec);
    if (!turn.ok) {
      settle(false);
      await marker(false);
      await queue.withdraw(spec.id, deps.cluster.replicaId).catch(() => false);
      closeRow(turn.error.code);
      deps.logger.warn({ task_id: spec.id, code: turn.error.code }, 'session turn refused in the commit window; admission refused');
      return turn.error;
    }
    // '1' also says the turn is counted: a task that leaves the queue unrun gives it back then
    // (ClusterTaskLookup). A tracked hold its eviction or withdrawal gave back counts no turn: '0'
    // (nobody can claim it any more). A task this admission's own claim took is in no queue: no
    // other replica claims it or ends it unrun, so no one reads its verdict (the claim here
    // waits on `settle`), and the write would only load the first-token path.
    if (!claimedHere) deps.track(marker(turn.value));
    return undefined;
  }

  /**
   * Counts the session turn held by the admission (its tracked hold). True when counted or
   * without a session; false when the task left the queue before (its hold went back then).
   */
  async #confirmTurn(spec: TaskSpec): Promise<Result<boolean>> {
    const sessionId = spec.submission.session_id;
    if (sessionId === undefined) return ok(true);
    try {
      const turn = await this.#deps.sessions.confirmTurn(sessionId, spec.submission.max_tokens, this.#deps.sessionCreate(spec.owner), spec.id);
      if (!turn.ok) return turn;
      return ok(turn.value.removed !== true);
    } catch (error) {
      if (!(error instanceof StateError)) throw error;
      // Not knowing whether it counted, the admission is refused; its hold goes back if still held.
      await this.#releaseHold(spec);
      return fail(toOrchError(error));
    }
  }

  /** A refused admission's session hold goes back (once: its tracked hold may be gone already). */
  async #releaseHold(spec: TaskSpec): Promise<void> {
    const sessionId = spec.submission.session_id;
    if (sessionId === undefined) return;
    await this.#deps.sessions.release(sessionId, spec.submission.max_tokens, spec.id).catch((error: unknown) => {
      this.#deps.logger.warn({ err: String(error), task_id: spec.id, session_id: sessionId }, 'session hold not given back; it lapses with the hold backstop or a takeover');
    });
  }
}
