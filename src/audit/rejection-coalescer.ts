// Rejection rows under a refusal burst (issue 14): identical refusals within a window become one
// `rejection` row that lists every refused request's correlation id, so a burst of thousands of
// 429s/s costs the audit a few rows a second instead of one hashed, stored row per refusal.
// Every refusal stays counted and attributable; a refusal that names a task or session is never merged.

import type { RejectedFact } from '../core/observer.ts';
import type { Clock } from '../core/ports.ts';
import { systemClock } from '../system-clock.ts';
import type { AuditRecorder } from './recorder.ts';

/** How long refusals of one kind are gathered after the first one was written on its own. */
export const COALESCE_WINDOW_MS = 250;
/** Correlation ids one row holds at most (a row stays a few KiB); a full group is written at once. */
export const COALESCE_MAX_IDS = 256;

interface Group {
  /** The first refusal merged here; its fields are the row's. */
  first: RejectedFact | undefined;
  ids: string[];
  firstAtMs: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Refusals merge only when everything their row records is equal except the correlation id:
 * pool, code, tenant, key, policy, limit and priority (the message is not part of a row).
 */
function keyOf(f: RejectedFact): string {
  return `${f.code}\u0000${f.pool_id ?? ''}\u0000${f.tenant ?? ''}\u0000${f.key_id ?? ''}\u0000${f.policy_label ?? ''}\u0000${f.limit ?? ''}\u0000${f.priority ?? ''}`;
}

/** The same fields keyOf reads are equal: the two refusals merge. */
function sameKind(a: RejectedFact, b: RejectedFact): boolean {
  return a.code === b.code && a.pool_id === b.pool_id && a.tenant === b.tenant && a.key_id === b.key_id && a.policy_label === b.policy_label && a.limit === b.limit && a.priority === b.priority;
}

/**
 * Wraps the audit recorder. The first refusal of a kind is written at once as its own row,
 * exactly as without coalescing, so a lone refusal is never delayed or changed. Identical
 * refusals in the next COALESCE_WINDOW_MS are gathered and written as one row whose
 * `data.count` is how many there were and `data.correlation_ids` lists them in order; the window
 * then restarts while refusals keep coming. flush() and close() write what is gathered first.
 */
export function coalesceRejections(recorder: AuditRecorder, clock: Clock = systemClock): AuditRecorder {
  const groups = new Map<string, Group>();
  // A burst is mostly refusals of one kind: the previous refusal's key is reused when its fields
  // compare equal, instead of a key string built per refusal (issue 14).
  let previous: { fact: RejectedFact; key: string } | undefined;
  const kindOf = (fact: RejectedFact): string => {
    if (previous === undefined || !sameKind(fact, previous.fact)) previous = { fact, key: keyOf(fact) };
    return previous.key;
  };

  const writeGroup = (key: string, group: Group): void => {
    const first = group.first;
    if (first === undefined) {
      // A whole window passed with nothing to merge: the next refusal is written on its own again.
      groups.delete(key);
      return;
    }
    recorder.rejected?.({ ...first, repeats: { correlation_ids: group.ids, first_at_ms: group.firstAtMs } });
    group.first = undefined;
    group.ids = [];
  };

  const arm = (key: string, group: Group): void => {
    group.timer = setTimeout(() => {
      group.timer = undefined;
      const hadRows = group.first !== undefined;
      writeGroup(key, group);
      if (hadRows) arm(key, group);
    }, COALESCE_WINDOW_MS);
    group.timer.unref();
  };

  const writeAll = (): void => {
    for (const [key, group] of groups) {
      clearTimeout(group.timer);
      writeGroup(key, group);
      groups.delete(key);
    }
  };

  const rejected = (fact: RejectedFact): void => {
    // A refusal naming a task or a session is looked up by that id: it keeps a row of its own.
    if (fact.task_id !== undefined || fact.session_id !== undefined) return recorder.rejected?.(fact);
    const key = kindOf(fact);
    const group = groups.get(key);
    if (group === undefined) {
      const fresh: Group = { first: undefined, ids: [], firstAtMs: 0, timer: undefined };
      groups.set(key, fresh);
      arm(key, fresh);
      return recorder.rejected?.(fact);
    }
    if (group.first === undefined) {
      group.first = fact;
      group.firstAtMs = clock.now();
    }
    group.ids.push(fact.correlation_id);
    if (group.ids.length >= COALESCE_MAX_IDS) writeGroup(key, group);
  };

  return {
    ...bindAll(recorder),
    rejected,
    flush() {
      writeAll();
      return recorder.flush();
    },
    close(timeoutMs?: number) {
      writeAll();
      return recorder.close(timeoutMs);
    },
  };
}

/** The recorder's methods bound to it (the writer is a class: its methods need their `this`). */
function bindAll(recorder: AuditRecorder): AuditRecorder {
  return {
    accepting: () => recorder.accepting(),
    commitAdmission: (fact) => recorder.commitAdmission(fact),
    gaps: () => recorder.gaps(),
    lagMs: () => recorder.lagMs(),
    pending: () => recorder.pending(),
    commits: () => recorder.commits(),
    head: () => recorder.head(),
    abandoned: (open) => recorder.abandoned(open),
    flush: () => recorder.flush(),
    purge: (olderThan, actor, correlationId) => recorder.purge(olderThan, actor, correlationId),
    close: (timeoutMs) => recorder.close(timeoutMs),
    ...(recorder.rejected ? { rejected: (f) => recorder.rejected?.(f) } : {}),
    ...(recorder.placed ? { placed: (f) => recorder.placed?.(f) } : {}),
    ...(recorder.finished ? { finished: (f) => recorder.finished?.(f) } : {}),
    ...(recorder.control ? { control: (f) => recorder.control?.(f) } : {}),
  };
}
