// After a crash (issue 10, finding 6), on both backends: the start-up reconcile closes every task
// the previous run left open with exactly one `abandoned` terminal row, a second start closes none,
// the chain still verifies, and a task's status is answered from its audit rows in the contract's
// TaskStatus shape.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Audit } from '../../src/audit/create-audit.ts';
import { reconcileAbandoned } from '../../src/audit/reconcile-abandoned.ts';
import type { AuditStore } from '../../src/audit/store.ts';
import { taskHistory } from '../../src/audit/task-history.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import { expectResponseMatches } from '../support/contract.ts';
import { admittedFact, BACKENDS, faultyStore, recordingLogger, terminalFact } from './audit-backends.ts';

const OPTIONS = { batch_max_rows: 64, batch_max_ms: 2, buffer_max_rows: 1_000, fail_closed: true };

function logs(): { info: string[]; error: string[]; logger: { info(f: Record<string, unknown>, m: string): void; error(f: Record<string, unknown>, m: string): void } } {
  const info: string[] = [];
  const error: string[] = [];
  return {
    info, error,
    logger: { info: (fields, message) => info.push(`${message} ${JSON.stringify(fields)}`), error: (fields, message) => error.push(`${message} ${JSON.stringify(fields)}`) },
  };
}

describe.each(BACKENDS)('reconcile and task history on $name', (backend) => {
  let store: AuditStore;
  let dispose: () => Promise<void>;
  let writer: AuditWriter;
  let audit: Audit;

  beforeAll(async () => {
    ({ store, dispose } = await backend.fresh());
    // The "previous run": four tasks admitted, two of them ended, then the process died.
    const previous = await AuditWriter.start(OPTIONS, { store, logger: recordingLogger() });
    await previous.commitAdmission(admittedFact('t-queued', { model: 'demo-model' }));
    await previous.commitAdmission(admittedFact('t-running', { session_id: 'sess-1', model: 'demo-model' }));
    previous.placed({ ...admittedFact('t-running'), replica_id: 'r2', engine: 'mock', queue_wait_ms: 3, decision: 'least-loaded', attempt: 1 });
    await previous.commitAdmission(admittedFact('t-done', { model: 'demo-model' }));
    previous.placed({ ...admittedFact('t-done'), replica_id: 'r1', engine: 'mock', queue_wait_ms: 1, decision: 'least-loaded', attempt: 1 });
    previous.finished(terminalFact('t-done'));
    await previous.commitAdmission(admittedFact('t-failed'));
    previous.finished(terminalFact('t-failed', { state: 'failed', finish_reason: undefined, error_code: 'ENGINE_ERROR', tokens_out: 0 }));
    await previous.flush();
    // No close(): a crash does not drain. The restart starts a writer on the stored head.
    writer = await AuditWriter.start(OPTIONS, { store, logger: recordingLogger() });
    audit = { store, writer, close: () => writer.close() };
  });

  afterAll(async () => {
    await writer.close(1_000);
    await dispose();
  });

  it('closes each task left open with exactly one abandoned terminal row, and only once', async () => {
    const first = logs();
    expect(await reconcileAbandoned(audit, first.logger)).toBe(2);
    expect(first.info.join('\n')).toContain('"abandoned":2');
    for (const taskId of ['t-queued', 't-running', 't-done', 't-failed']) {
      const terminals = (await store.query({ task_id: taskId, limit: 100 })).filter((row) => row.kind === 'terminal');
      expect(terminals, taskId).toHaveLength(1);
    }
    const [running] = (await store.query({ task_id: 't-running', kind: 'terminal', limit: 1 }));
    expect(running).toMatchObject({
      actor: 'system:restart', session_id: 'sess-1', pool_id: 'pool-a',
      data: { state: 'abandoned', cause: 'gateway_restart', last_known_state: 'running', replica_id: 'r2', engine: 'mock' },
    });
    const [queued] = (await store.query({ task_id: 't-queued', kind: 'terminal', limit: 1 }));
    expect(queued?.data).toMatchObject({ state: 'abandoned', last_known_state: 'queued' });
    expect(queued?.data).not.toHaveProperty('replica_id');

    expect(await reconcileAbandoned(audit, logs().logger)).toBe(0);
    expect(await store.verify()).toMatchObject({ ok: true });
  });

  it('answers a task\'s last known state from the audit in the TaskStatus shape', async () => {
    const history = taskHistory(store);
    const abandoned = await history('t-running');
    expectResponseMatches('getTask', 200, abandoned);
    expect(abandoned).toMatchObject({ task_id: 't-running', state: 'abandoned', model: 'demo-model', pool_id: 'pool-a', session_id: 'sess-1', replica_id: 'r2', engine: 'mock', tokens_out: 0, last_event_id: 0 });
    expect(abandoned?.finished_at).toEqual(expect.any(String));
    const done = await history('t-done');
    expectResponseMatches('getTask', 200, done);
    expect(done).toMatchObject({ state: 'completed', finish_reason: 'stop', tokens_out: 12, replica_id: 'r1' });
    const failed = await history('t-failed');
    expectResponseMatches('getTask', 200, failed);
    expect(failed).toMatchObject({ state: 'failed', model: '', error: { code: 'ENGINE_ERROR', retriable: expect.any(Boolean) } });
    expect(await history('never-admitted')).toBeUndefined();
  });

  it('logs and survives a store that fails during the reconcile', async () => {
    const flaky = faultyStore(store);
    flaky.down = true;
    const failing = logs();
    expect(await reconcileAbandoned({ ...audit, store: flaky }, failing.logger)).toBe(0);
    expect(failing.error.join('\n')).toContain('next start retries');
  });
});
