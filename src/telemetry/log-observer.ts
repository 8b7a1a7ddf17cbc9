// One JSON log line per lifecycle fact: admission, refusal, placement, terminal outcome and
// control action, each with the task's fields and its correlation id. Never one per token.

import type { Logger } from 'pino';
import { httpStatusOf } from '../core/errors.ts';
import type { LifecycleObserver } from '../core/observer.ts';
import { REDACTED } from '../core/redact.ts';

export function createLogObserver(logger: Logger): Required<Pick<LifecycleObserver, 'admitted' | 'rejected' | 'placed' | 'firstToken' | 'finished' | 'control'>> {
  // Refusal lines skip pino's path redaction, which was ~4/5 of a line's cost (issue 14: one line
  // per 429 under a burst). A RejectedFact holds ids, codes and the gateway's own message, never
  // a credential (key_id is the key's id); the logger's scrubSecrets formatter still runs on it.
  const refusals = logger.child({}, { redact: { paths: [], censor: REDACTED } });
  return {
    // Info lines are checked for first: below the level a fact's copy would be built for nothing,
    // three per task (issue 14; the bench runs at warn).
    admitted(f) {
      if (logger.isLevelEnabled('info')) logger.info({ event: 'task.admitted', ...f }, 'task admitted');
    },
    rejected(f) {
      // Refusals the client caused are routine; the gateway's own failures (5xx) are not.
      const level = httpStatusOf(f.code) >= 500 ? 'warn' : 'info';
      // A burst of 429s at log level warn builds no line at all (issue 14).
      if (!refusals.isLevelEnabled(level)) return;
      refusals[level]({ event: 'task.rejected', ...f }, 'request refused');
    },
    placed(f) {
      if (logger.isLevelEnabled('info')) logger.info({ event: 'task.placed', ...f }, 'task placed');
    },
    firstToken(f) {
      logger.debug({ event: 'task.first_token', task_id: f.task_id, correlation_id: f.correlation_id, replica_id: f.replica_id, ttft_ms: f.ttft_ms }, 'first token');
    },
    finished(f) {
      const level = f.state === 'failed' ? 'warn' : 'info';
      if (logger.isLevelEnabled(level)) logger[level]({ event: 'task.finished', ...f }, 'task finished');
    },
    control(f) {
      logger.info({ event: 'control', ...f }, `control ${f.action}`);
    },
  };
}
