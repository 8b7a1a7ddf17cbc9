// Start-up reconcile after a crash (issue 10, finding 6): every task whose admission row has no
// later terminal row gets one, `abandoned` with the restart as its cause, before admissions
// open. Only this gateway's own chain is looked at (store.openAdmissions): on a database shared by
// replicas, the other chains' open tasks belong to replicas that may still be running them.

import type { Audit } from './create-audit.ts';

const PAGE_ROWS = 500;

export interface ReconcileLogger {
  info(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/**
 * Appends one `abandoned` terminal row per open admission and waits until they are committed.
 * Returns how many it closed. A store failure is logged, not thrown: the gateway still starts,
 * and the next start closes what is left.
 */
export async function reconcileAbandoned(audit: Audit | undefined, logger: ReconcileLogger): Promise<number> {
  const store = audit?.store;
  if (audit === undefined || store === null || store === undefined) return 0;
  let closed = 0;
  let after = 0;
  try {
    for (;;) {
      const page = await store.openAdmissions(after, PAGE_ROWS);
      for (const open of page) audit.writer.abandoned(open);
      closed += page.length;
      // Flushing per page keeps the writer's bounded buffer from overflowing on a large backlog.
      await audit.writer.flush();
      const last = page.at(-1);
      if (last === undefined || page.length < PAGE_ROWS) break;
      after = last.seq;
    }
  } catch (error) {
    logger.error({ err: String(error), abandoned: closed }, 'audit: closing tasks left open by the previous run failed; the next start retries');
    return closed;
  }
  logger.info({ abandoned: closed }, 'audit: tasks left open by the previous run recorded as abandoned');
  return closed;
}
