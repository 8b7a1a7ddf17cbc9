// What the admit and claim scripts answer, as typed results (issue 15): the reply arrays of
// admission-scripts.ts and claim-lua.ts read in one place, with a session refusal worded as
// core's checkSession words it.

import { orchError, type OrchError } from '../../core/errors.ts';
import type { Affinity } from '../../core/session/session-record.ts';
import type { Priority } from '../../core/task/events.ts';
import type { LimitName } from '../../core/tenancy/limits.ts';

export type AdmitResult =
  | { kind: 'queued'; position: number; evicted?: string; affinity?: Affinity }
  /** The session refused the turn: the error core's admission gives for the same standing. */
  | { kind: 'session_refused'; error: OrchError }
  | { kind: 'refused'; subject: string; limit: LimitName; max: number; resetInMs?: number }
  | { kind: 'too_large'; subject: string; limit: LimitName; max: number }
  | { kind: 'queue_full' }
  | { kind: 'duplicate' }
  /** The task_id was answered before with the same body: the first answer, unchanged. */
  | { kind: 'replay'; answer: unknown }
  /** The task_id was used with another body. */
  | { kind: 'conflict' }
  /** The task_id's first admission (same body) is not answered yet; in memory this is CONFLICT too. */
  | { kind: 'in_flight' };

export interface ClaimedTask {
  taskId: string;
  engineReplica: string;
  priority: Priority;
  tenant: string;
  admittedBy: string;
}

/**
 * `no_slot`: none of the claimer's candidates has a slot free cluster-wide; `waiting`: there are
 * free ones, but the queued tasks the claim examined (at most CLAIM_SCAN_CAP) may not run on them
 * (a pin or avoid without allow_fallback).
 */
export type ClaimResult =
  | { kind: 'claimed'; task: ClaimedTask }
  | { kind: 'empty' }
  | { kind: 'no_slot' }
  | { kind: 'waiting' }
  /** The next task is hard-pinned to an engine replica with no capacity: still queued, the claimer's to withdraw and end (REPLICA_EXHAUSTED). */
  | { kind: 'unplaceable'; taskId: string };

/** What of an admission its reply is read against (pool-queue.ts's AdmitRequest has it). */
export interface AdmittedAs {
  subjects: ReadonlyArray<{ subject: string }>;
  session?: { id: string };
  maxTokens: number;
}

/** The admit script's reply as a typed result (admission-scripts.ts says what each reply holds). */
export function admitResultOf(req: AdmittedAs, reply: ReadonlyArray<string | number>): AdmitResult {
  const subjectAt = (i: unknown) => req.subjects[Number(i) - 1]?.subject ?? '';
  switch (reply[0]) {
    case 'queued':
      return {
        kind: 'queued', position: Number(reply[1]),
        ...(reply[2] ? { evicted: String(reply[2]) } : {}),
        ...(reply[3] ? { affinity: JSON.parse(String(reply[3])) as Affinity } : {}),
      };
    case 'session':
      return { kind: 'session_refused', error: sessionRefusal(req.session?.id ?? '', req.maxTokens, reply.slice(1)) };
    case 'refused': {
      const reset = Number(reply[4]);
      const base = { kind: 'refused' as const, subject: subjectAt(reply[1]), limit: reply[2] as LimitName, max: Number(reply[3]) };
      return reset >= 0 ? { ...base, resetInMs: reset } : base;
    }
    case 'too_large':
      return { kind: 'too_large', subject: subjectAt(reply[1]), limit: reply[2] as LimitName, max: Number(reply[3]) };
    case 'queue_full':
      return { kind: 'queue_full' };
    case 'duplicate':
    case 'conflict':
    case 'in_flight':
      return { kind: reply[0] };
    case 'replay':
      return { kind: 'replay', answer: JSON.parse(String(reply[1])) as unknown };
    default:
      throw new Error(`admit script answered ${String(reply[0])}`);
  }
}

/** The claim script's reply as a typed result (claim-lua.ts). */
export function parseClaim(reply: string[]): ClaimResult {
  if (reply[0] === 'empty' || reply[0] === 'no_slot' || reply[0] === 'waiting') return { kind: reply[0] };
  if (reply[0] === 'unplaceable') return { kind: 'unplaceable', taskId: String(reply[1]) };
  const entry = JSON.parse(reply[2] as string) as { p: Priority; t: string; by: string };
  return { kind: 'claimed', task: { taskId: reply[0] as string, engineReplica: reply[1] as string, priority: entry.p, tenant: entry.t, admittedBy: entry.by } };
}

/** The session script's refusal as the error core's checkSession gives (same codes, messages and details). */
function sessionRefusal(id: string, maxTokens: number, [reason, a, b, c]: ReadonlyArray<string | number>): OrchError {
  switch (reason) {
    case 'expired':
      return orchError('SESSION_EXPIRED', `session ${id} has expired`);
    case 'no_room': {
      const message = `session limit reached (${a} live sessions); retry later or delete unused sessions`;
      return orchError('RATE_LIMITED', message, Number(b) >= 0 ? { retry_after_ms: Number(b) } : {});
    }
    case 'tokens': {
      const message = `max_tokens ${maxTokens} exceeds the session's remaining token budget ${Math.max(0, Number(a) - Number(b))}`;
      return orchError('BUDGET_EXCEEDED', message, { budget: 'tokens', field: 'max_tokens' });
    }
    default:
      return orchError('BUDGET_EXCEEDED', `session ${id} has used ${c} of its ${b} ${a}`, { budget: String(a) });
  }
}
