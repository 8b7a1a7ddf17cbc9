// The task service's own timers on a fake clock: a task's deadline and the unclaimed-stream
// timeout fire exactly when due, never before, and end the task with the right terminal event.
import { afterEach, describe, expect, it } from 'vitest';
import { startServiceKit, type ServiceKit } from '../../test/support/task-service.ts';
import type { AdmissionRecorder, RejectedFact } from '../core/observer.ts';

let kit: ServiceKit | undefined;
afterEach(async () => {
  await kit?.close();
  kit = undefined;
});

// ORCH-0109 ORCH-0205
describe('task deadline', () => {
  it('expires a running task with DEADLINE_EXCEEDED exactly at deadline_ms, not a millisecond before', async () => {
    kit = await startServiceKit({ mock: { hang_at_token: 2 } });
    const task = await kit.submit({ deadline_ms: 1_000 });
    await kit.tokens(task, 2);
    kit.clock.advance(999);
    expect(task.state).toBe('running');
    kit.clock.advance(1);
    expect(task.state).toBe('expired');
    expect(task.status(undefined)).toMatchObject({ state: 'expired', tokens_out: 2, error: { code: 'DEADLINE_EXCEEDED', retriable: false } });
    expect(task.log.terminal?.event).toBe('error');
    expect(kit.finished).toEqual([expect.objectContaining({ task_id: task.id, state: 'expired', error_code: 'DEADLINE_EXCEEDED', cancel_reason: 'deadline', e2e_ms: 1_000 })]);
    // The engine call is aborted, so the slot frees.
    const pool = kit.pools.get('demo');
    await expect.poll(() => pool?.status().slots.busy).toBe(0);
  });

  it('expires a task still waiting in the queue at its deadline and takes it out of the queue', async () => {
    kit = await startServiceKit({ pool: { replicas: [{ id: 'mock-0', slots: 1 }] }, mock: { hang_at_token: 0 } });
    const blocker = await kit.submit();
    const waiting = await kit.submit({ deadline_ms: 500 });
    const pool = kit.pools.get('demo');
    expect([blocker.state, waiting.state, pool?.queue.size]).toEqual(['running', 'queued', 1]);
    kit.clock.advance(499);
    expect(waiting.state).toBe('queued');
    kit.clock.advance(1);
    expect(waiting.status(undefined)).toMatchObject({ state: 'expired', error: { code: 'DEADLINE_EXCEEDED' } });
    expect(pool?.queue.size).toBe(0);
    expect(blocker.state).toBe('running');
    expect(kit.finished).toEqual([expect.objectContaining({ task_id: waiting.id, state: 'expired', queue_wait_ms: 500, e2e_ms: 500 })]);
  });

  it('counts the deadline from admission, not from placement', async () => {
    kit = await startServiceKit({ pool: { replicas: [{ id: 'mock-0', slots: 1 }] }, mock: { hang_at_token: 0 } });
    const blocker = await kit.submit();
    const waiting = await kit.submit({ deadline_ms: 1_000 });
    kit.clock.advance(600);
    kit.service.cancel(blocker.id);
    // The freed slot goes to the waiting task at fake time 600; its deadline stays at 1000.
    await expect.poll(() => waiting.state).toBe('running');
    kit.clock.advance(399);
    expect(waiting.state).toBe('running');
    kit.clock.advance(1);
    expect(waiting.state).toBe('expired');
  });

  it('leaves no deadline or watchdog timer behind once the task has ended', async () => {
    kit = await startServiceKit({ config: { server: { retention_ms: 60_000 } }, mock: { hang_at_token: 1 } });
    const task = await kit.submit({ deadline_ms: 1_000 });
    await kit.tokens(task, 1);
    expect(kit.clock.timers).toBe(3); // deadline, idle and wall
    kit.service.cancel(task.id);
    // Only the retention timer is left once the aborted engine call has unwound.
    await expect.poll(() => kit?.clock.timers).toBe(1);
    kit.clock.advance(5_000);
    expect(task.state).toBe('canceled');
    expect(kit.finished).toHaveLength(1);
  });
});

// ORCH-0205
describe('unclaimed stream timeout', () => {
  it('cancels a task nobody streamed exactly at unclaimed_stream_timeout_ms', async () => {
    kit = await startServiceKit({ config: { server: { unclaimed_stream_timeout_ms: 3_000 } }, mock: { hang_at_token: 2 } });
    const task = await kit.submit();
    await kit.tokens(task, 2);
    kit.clock.advance(2_999);
    expect(task.state).toBe('running');
    kit.clock.advance(1);
    expect(task.status(undefined)).toMatchObject({ state: 'canceled', finish_reason: 'canceled' });
    expect(task.log.terminal?.event).toBe('end');
    expect(kit.finished).toEqual([expect.objectContaining({ task_id: task.id, state: 'canceled', cancel_reason: 'unclaimed' })]);
  });

  it('leaves a task alone once its stream was opened, even after the reader left', async () => {
    kit = await startServiceKit({ config: { server: { unclaimed_stream_timeout_ms: 3_000 } }, mock: { hang_at_token: 2 } });
    // detach: the orphan grace (its own describe below) would otherwise end it.
    const task = await kit.submit({ detach: true });
    task.streamAttached();
    task.streamDetached();
    kit.clock.advance(10_000);
    expect(task.state).toBe('running');
    expect(kit.finished).toEqual([]);
  });

  it('arms no timer when the timeout is 0 (the default)', async () => {
    kit = await startServiceKit({ mock: { hang_at_token: 2 } });
    const task = await kit.submit();
    expect(kit.clock.timers).toBe(2); // the dispatcher's idle and wall watchdogs only
    kit.clock.advance(59_999);
    expect(task.state).toBe('running');
  });
});

// ORCH-0206 (issue 10 finding 7)
describe('orphan grace', () => {
  // Fake-time advances stay under the dispatcher's idle watchdog (timeouts.idle_ms, 60 s).
  const orphanKit = (server: Record<string, unknown> = {}, pool?: Record<string, unknown>) =>
    startServiceKit({ config: { server: { orphan_grace_ms: 3_000, ...server } }, mock: { hang_at_token: 2 }, ...(pool ? { pool } : {}) });

  it('cancels a running task exactly orphan_grace_ms after its last reader left, with reason orphaned', async () => {
    kit = await orphanKit();
    const task = await kit.submit();
    await kit.tokens(task, 2);
    task.streamAttached();
    kit.clock.advance(10_000);
    task.streamDetached();
    kit.clock.advance(2_999);
    expect(task.state).toBe('running');
    kit.clock.advance(1);
    expect(task.status(undefined)).toMatchObject({ state: 'canceled', finish_reason: 'canceled', tokens_out: 2 });
    expect(task.log.terminal).toMatchObject({ event: 'end', data: { finish_reason: 'canceled' } });
    expect(kit.finished).toEqual([expect.objectContaining({ task_id: task.id, state: 'canceled', cancel_reason: 'orphaned', finish_reason: 'canceled' })]);
    // The engine call is aborted, so the slot frees.
    // The freed slot takes the newcomer early (its call overlaps the commit): the queue is empty.
    await expect.poll(() => kit?.pools.get('demo')?.queue.size).toBe(0);
  });

  it('keeps the task when a reader comes back within the grace, and restarts the grace when it leaves again', async () => {
    kit = await orphanKit();
    const task = await kit.submit();
    task.streamAttached();
    task.streamDetached();
    kit.clock.advance(2_999);
    task.streamAttached();
    kit.clock.advance(50_000);
    expect(task.state).toBe('running');
    task.streamDetached();
    kit.clock.advance(2_999);
    expect(task.state).toBe('running');
    kit.clock.advance(1);
    expect(task.state).toBe('canceled');
  });

  it('waits for every reader to leave before the grace starts', async () => {
    kit = await orphanKit();
    const task = await kit.submit();
    task.streamAttached();
    task.streamAttached();
    task.streamDetached();
    kit.clock.advance(50_000);
    expect(task.state).toBe('running');
    task.streamDetached();
    kit.clock.advance(3_000);
    expect(task.state).toBe('canceled');
  });

  it('never cancels a task submitted with detach: true', async () => {
    kit = await orphanKit();
    const task = await kit.submit({ detach: true });
    task.streamAttached();
    task.streamDetached();
    kit.clock.advance(50_000);
    expect(task.state).toBe('running');
    expect(kit.finished).toEqual([]);
  });

  it('never cancels a task nobody ever read (that is unclaimed_stream_timeout_ms)', async () => {
    kit = await orphanKit();
    const task = await kit.submit();
    kit.clock.advance(50_000);
    expect(task.state).toBe('running');
  });

  it('cancels an orphaned task still waiting in the queue and takes it out of the queue', async () => {
    kit = await orphanKit({}, { replicas: [{ id: 'mock-0', slots: 1 }] });
    const blocker = await kit.submit({ detach: true });
    const waiting = await kit.submit();
    waiting.streamAttached();
    waiting.streamDetached();
    kit.clock.advance(3_000);
    expect([blocker.state, waiting.state, kit.pools.get('demo')?.queue.size]).toEqual(['running', 'canceled', 0]);
    expect(kit.finished).toEqual([expect.objectContaining({ task_id: waiting.id, cancel_reason: 'orphaned', queue_wait_ms: 3_000 })]);
  });

  it('arms nothing when orphan_grace_ms is 0', async () => {
    kit = await orphanKit({ orphan_grace_ms: 0 });
    const task = await kit.submit();
    await kit.tokens(task, 2);
    const timers = kit.clock.timers;
    task.streamAttached();
    task.streamDetached();
    expect(kit.clock.timers).toBe(timers);
    kit.clock.advance(50_000);
    expect(task.state).toBe('running');
  });

  it('leaves no orphan timer behind once the task has ended otherwise', async () => {
    kit = await orphanKit({ retention_ms: 60_000 });
    const task = await kit.submit();
    await kit.tokens(task, 2);
    task.streamAttached();
    task.streamDetached();
    kit.service.cancel(task.id);
    await expect.poll(() => kit?.clock.timers).toBe(1); // retention only
    kit.clock.advance(3_000);
    expect(kit.finished).toEqual([expect.objectContaining({ cancel_reason: 'client' })]);
  });
});

describe('the admission commit point', () => {
  it('refuses an admission whose commit has not resolved within 5 s with AUDIT_UNAVAILABLE (fail_closed)', async () => {
    const recorder: AdmissionRecorder = { accepting: () => true, commitAdmission: () => new Promise<void>(() => {}) };
    kit = await startServiceKit({ config: { audit: { backend: 'off', fail_closed: true } }, recorder });
    const pending = kit.service.submit({ model: 'demo', prompt: 'slow store', max_tokens: 4, session_id: 'held' }, 'c1');
    kit.clock.advance(4_999);
    expect(kit.service.size).toBe(1);
    kit.clock.advance(1);
    const result = await pending;
    expect(result.ok ? 'admitted' : result.error.code).toBe('AUDIT_UNAVAILABLE');
    expect(kit.service.size).toBe(0);
    expect(kit.pools.get('demo')?.queue.size).toBe(0);
    expect(kit.sessions.standing('held')).toEqual({ kind: 'new', room: true });
  });

  // Found by the Postgres-frozen chaos journey: the refused task's admission row landed once
  // the store thawed, with no terminal row, so the audit showed a task open forever.
  it('closes with a terminal fact an admission refused on timeout whose commit lands later', async () => {
    let land = (): void => {};
    const recorder: AdmissionRecorder = { accepting: () => true, commitAdmission: () => new Promise<void>((resolve) => { land = resolve; }) };
    kit = await startServiceKit({ config: { audit: { backend: 'off', fail_closed: true } }, recorder });
    const pending = kit.service.submit({ model: 'demo', prompt: 'late row', max_tokens: 4 }, 'c1');
    kit.clock.advance(5_000);
    const refused = await pending;
    expect(refused.ok ? 'admitted' : refused.error.code).toBe('AUDIT_UNAVAILABLE');
    expect(kit.finished).toEqual([]);
    land();
    await expect.poll(() => kit?.finished).toEqual([expect.objectContaining({ state: 'failed', error_code: 'AUDIT_UNAVAILABLE', tokens_out: 0, e2e_ms: 5_000 })]);
    expect(kit.service.size).toBe(0);
  });

  it('writes no terminal fact for an admission whose commit was refused outright', async () => {
    const recorder: AdmissionRecorder = { accepting: () => true, commitAdmission: () => Promise.reject(new Error('store down')) };
    kit = await startServiceKit({ config: { audit: { backend: 'off', fail_closed: true } }, recorder });
    const refused = await kit.service.submit({ model: 'demo', prompt: 'no row', max_tokens: 4 }, 'c1');
    expect(refused.ok ? 'admitted' : refused.error.code).toBe('AUDIT_UNAVAILABLE');
    await new Promise((resolve) => setImmediate(resolve));
    expect(kit.finished).toEqual([]);
  });

  // Regression: withdrawing an admission must free what it held and pump the pool, or committed
  // work behind it waits for an unrelated capacity event with slots free. The withdrawn task
  // was placed early (its commit in flight), so it held the only slot until it was refused.
  it('dispatches committed work queued behind an admission that is rolled back', async () => {
    let commits = 0;
    const recorder: AdmissionRecorder = {
      accepting: () => true,
      // The first commit never resolves (it times out); later ones succeed at once.
      commitAdmission: () => (commits++ === 0 ? new Promise<void>(() => {}) : Promise.resolve()),
    };
    kit = await startServiceKit({ config: { audit: { backend: 'off', fail_closed: true } }, pool: { replicas: [{ id: 'mock-0', slots: 1 }] }, mock: { hang_at_token: 2 }, recorder });
    const first = kit.service.submit({ model: 'demo', prompt: 'first', max_tokens: 4 }, 'c1');
    const behind = await kit.submit();
    expect(behind.state).toBe('queued');
    kit.clock.advance(5_000);
    const refused = await first;
    expect(refused.ok ? 'admitted' : refused.error.code).toBe('AUDIT_UNAVAILABLE');
    await expect.poll(() => behind.state).toBe('running');
    expect(kit.pools.get('demo')?.queue.size).toBe(0);
  });

  it('starts the engine call while the commit is in flight, but emits no event or fact before the commit', async () => {
    let land = (): void => {};
    const recorder: AdmissionRecorder = { accepting: () => true, commitAdmission: () => new Promise<void>((resolve) => { land = resolve; }) };
    const placed: string[] = [];
    kit = await startServiceKit({ config: { audit: { backend: 'off', fail_closed: true } }, recorder, observer: { placed: (fact) => void placed.push(fact.task_id) } });
    const pending = kit.service.submit({ model: 'demo', prompt: 'early', max_tokens: 3 }, 'c1');
    const pool = kit.pools.get('demo');
    expect(pool?.status().slots.busy).toBe(1);
    // Long enough for the mock engine to have produced every token of its stream.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(kit.service.size).toBe(1);
    expect(kit.logs.map((log) => log.lastSeq)).toEqual([0]);
    expect(placed).toEqual([]);
    land();
    const admitted = await pending;
    if (!admitted.ok) throw new Error(admitted.error.code);
    await expect.poll(() => admitted.value.task.finished).toBe(true);
    expect(admitted.value.task.log.since(0).map((e) => e.event)).toEqual(['started', 'token', 'token', 'token', 'metrics', 'end']);
    expect(placed).toEqual([admitted.value.task.id]);
  });

  it('aborts an engine call started early when its admission is refused, and emits nothing for it', async () => {
    let refuse = (_error: Error): void => {};
    const recorder: AdmissionRecorder = { accepting: () => true, commitAdmission: () => new Promise<void>((_resolve, reject) => { refuse = reject; }) };
    const placed: string[] = [];
    kit = await startServiceKit({ config: { audit: { backend: 'off', fail_closed: true } }, recorder, mock: { hang_at_token: 0 }, observer: { placed: (fact) => void placed.push(fact.task_id) } });
    const pending = kit.service.submit({ model: 'demo', prompt: 'doomed', max_tokens: 3 }, 'c1');
    const pool = kit.pools.get('demo');
    expect(pool?.status().slots.busy).toBe(1);
    refuse(new Error('store down'));
    const refused = await pending;
    expect(refused.ok ? 'admitted' : refused.error.code).toBe('AUDIT_UNAVAILABLE');
    await expect.poll(() => pool?.status().slots.busy).toBe(0);
    expect([placed, kit.finished, kit.service.size, kit.logs.map((log) => log.lastSeq)]).toEqual([[], [], 0, [0]]);
  });
  // Under drop-lru the victim is only set aside when the newcomer is offered; a rolled-back
  // newcomer (AUDIT_UNAVAILABLE) puts it back, so a refused request changes nothing (ORCH-0115).
  it('leaves a drop-lru victim queued when the newcomer that would evict it is rolled back', async () => {
    let failCommits = false;
    const recorder: AdmissionRecorder = { accepting: () => true, commitAdmission: () => (failCommits ? Promise.reject(new Error('down')) : Promise.resolve()) };
    kit = await startServiceKit({
      config: { audit: { backend: 'off', fail_closed: true } },
      pool: { replicas: [{ id: 'mock-0', slots: 1 }], queue: { max_queued: 1, policy: 'drop-lru' } },
      mock: { hang_at_token: 0 },
      recorder,
    });
    await kit.submit();
    const victim = await kit.submit({ priority: 'batch' });
    failCommits = true;
    const refused = await kit.service.submit({ model: 'demo', prompt: 'newcomer', max_tokens: 4 }, 'c1');
    expect(refused.ok ? 'admitted' : refused.error.code).toBe('AUDIT_UNAVAILABLE');
    expect(victim.state).toBe('queued');
    expect(kit.pools.get('demo')?.queue.position(victim.id)).toBe(0);
    // The next newcomer whose admission commits evicts it, once.
    failCommits = false;
    const newcomer = await kit.submit();
    expect([victim.state, newcomer.state]).toEqual(['evicted', 'queued']);
    expect(kit.finished.filter((fact) => fact.task_id === victim.id).map((fact) => fact.state)).toEqual(['evicted']);
  });

  it('keeps a drop-lru victim queued when room came back while the newcomer committed', async () => {
    let commit = (): void => {};
    let holdCommits = false;
    const recorder: AdmissionRecorder = {
      accepting: () => true,
      commitAdmission: () => (holdCommits ? new Promise<void>((resolve) => { commit = resolve; }) : Promise.resolve()),
    };
    kit = await startServiceKit({
      config: { audit: { backend: 'off', fail_closed: true } },
      pool: { replicas: [{ id: 'mock-0', slots: 1 }], queue: { max_queued: 1, policy: 'drop-lru' } },
      mock: { hang_at_token: 0 },
      recorder,
    });
    const running = await kit.submit();
    const victim = await kit.submit({ priority: 'batch' });
    holdCommits = true;
    const pending = kit.service.submit({ model: 'demo', prompt: 'newcomer', max_tokens: 4 }, 'c1');
    // The slot frees in the commit window: the newcomer (interactive) takes it, the queue has room.
    kit.service.cancel(running.id);
    // The freed slot takes the newcomer early (its call overlaps the commit): the queue is empty.
    await expect.poll(() => kit?.pools.get('demo')?.queue.size).toBe(0);
    commit();
    const admitted = await pending;
    expect(admitted.ok).toBe(true);
    expect(victim.state).toBe('queued');
    expect(kit.finished.some((fact) => fact.task_id === victim.id)).toBe(false);
  });
});

// Issue 14: the first-token path at concurrency 1.
describe('the commit point with the engine call started early', () => {
  it('starts the engine call before it asks for the admission row, and emits nothing of the task until the row is committed', async () => {
    let release = (): void => undefined;
    const seen: string[] = [];
    let slotsAtCommit: number | undefined;
    kit = await startServiceKit({
      pool: { replicas: [{ id: 'mock-0', slots: 2 }] },
      recorder: {
        accepting: () => true,
        commitAdmission: () => {
          slotsAtCommit = kit?.pools.get('demo')?.freeSlots();
          seen.push('commit asked');
          return new Promise<void>((resolve) => { release = resolve; });
        },
      },
      observer: { placed: () => seen.push('placed'), admitted: () => seen.push('admitted') },
    });
    const submitted = kit.submit();
    // One of the two slots is leased by the early call when the row is asked for.
    expect(slotsAtCommit).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen).toEqual(['commit asked']);
    release();
    const task = await submitted;
    await kit.tokens(task, 4);
    expect(seen).toEqual(['commit asked', 'admitted', 'placed']);
  });
});

describe('refusal facts', () => {
  it('carries exactly the keys the refusal has, in a fixed order, and none set to undefined', async () => {
    const rejected: RejectedFact[] = [];
    kit = await startServiceKit({
      pool: { replicas: [{ id: 'mock-0', slots: 1 }], queue: { max_queued: 1, policy: 'reject' } },
      mock: { hang_at_token: 0 },
      observer: { rejected: (fact) => void rejected.push(fact) },
    });
    const owner = { tenant: 't1', keyId: 'key:k1' };
    await kit.service.submit({ model: 'nope', prompt: 'x', max_tokens: 1 }, 'c1', owner);
    await kit.submit();
    await kit.submit();
    await kit.service.submit({ model: 'demo', prompt: 'x', max_tokens: 1, task_id: 'job-1', session_id: 's1', priority: 'batch' }, 'c2', owner);
    expect(rejected).toStrictEqual([
      { correlation_id: 'c1', code: 'INVALID_PARAMS', message: 'unknown model nope', priority: 'interactive', tenant: 't1', key_id: 'key:k1' },
      {
        correlation_id: 'c2', code: 'ADMISSION_REJECT', message: expect.any(String), pool_id: 'demo', task_id: 'job-1', session_id: 's1',
        priority: 'batch', policy_label: 'reject', tenant: 't1', key_id: 'key:k1',
      },
    ]);
    expect(rejected.map((fact) => Object.keys(fact))).toEqual([
      ['correlation_id', 'code', 'message', 'priority', 'tenant', 'key_id'],
      ['correlation_id', 'code', 'message', 'pool_id', 'task_id', 'session_id', 'priority', 'policy_label', 'tenant', 'key_id'],
    ]);
  });
});
