// A refused or rolled-back admission leaves no session turn behind: refusals before the apply
// step create no session, a full queue leaves an existing session's turns alone, a failed
// audit commit (fail_closed) gives its held turn back, and concurrent admissions see each
// other's held turns, so a one-turn session admits exactly one of two.

import { afterEach, describe, expect, it } from 'vitest';
import type { AdmissionRecorder } from '../../src/core/observer.ts';
import { failingFirstCommit, mockPool, startGateway, testConfig, type HttpResult, type TestGateway } from '../support/gateway.ts';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

const task = (over: Record<string, unknown> = {}) => ({ model: 'demo', prompt: 'hello', max_tokens: 4, ...over });
const errorOf = (res: HttpResult) => (res.body as { error: Record<string, unknown> }).error;
const turnsOf = async (g: TestGateway, id: string) => ((await g.get(`/v1/sessions/${id}`)).body as { turns: number }).turns;
const depthOf = async (g: TestGateway) => ((await g.get('/v1/pools/demo')).body as { queue: { depth: number } }).queue.depth;

/** One slot held forever by a hanging stream and one queue place: the third task finds it full. */
const fullQueueConfig = () =>
  testConfig({ pools: [mockPool({ replicas: [{ id: 'mock-0', slots: 1 }], queue: { max_queued: 1 } }, { hang_at_token: 0 })] });

// ORCH-0115 ORCH-0113 ORCH-0303
describe('admission rollback', () => {
  it('creates no session for a new session_id refused at the deadline step', async () => {
    // 5 tokens/s: 50 tokens take about 10 s, so a 10 ms deadline cannot be met.
    gw = await startGateway(testConfig({ pools: [mockPool({}, { tokens_per_s: 5, first_token_delay_ms: 100 })] }));
    const res = await gw.post('/v1/tasks', task({ session_id: 'never-made', max_tokens: 50, deadline_ms: 10 }));
    expect(res.status).toBe(422);
    expect(errorOf(res)).toMatchObject({ code: 'DEADLINE_UNMET', field: 'deadline_ms' });
    const view = await gw.get('/v1/sessions/never-made');
    expect(view.status).toBe(404);
    expect(errorOf(view)).toMatchObject({ code: 'NOT_FOUND' });
    expect(gw.sessions.size).toBe(0);
    expect(gw.tasks.size).toBe(0);
  });

  it("leaves an existing session's turns unchanged when its task finds the queue full", async () => {
    gw = await startGateway(fullQueueConfig());
    expect((await gw.post('/v1/sessions', { session_id: 'patient', max_turns: 1 })).status).toBe(201);
    expect((await gw.post('/v1/tasks', task())).status).toBe(202);
    const waiting = await gw.post('/v1/tasks', task());
    expect(await depthOf(gw)).toBe(1);
    const refused = await gw.post('/v1/tasks', task({ session_id: 'patient' }));
    expect(refused.status).toBe(429);
    expect(errorOf(refused)).toMatchObject({ code: 'ADMISSION_REJECT', policy_label: 'reject' });
    expect(await turnsOf(gw, 'patient')).toBe(0);
    expect(await depthOf(gw)).toBe(1);
    // A new session_id refused by the full queue is never created.
    expect((await gw.post('/v1/tasks', task({ session_id: 'never-made' }))).status).toBe(429);
    expect((await gw.get('/v1/sessions/never-made')).status).toBe(404);
    // Once the queue has room, the one-turn session still has its turn to use.
    const id = (waiting.body as { task_id: string }).task_id;
    expect((await gw.post(`/v1/tasks/${id}/cancel`, undefined)).status).toBe(200);
    expect((await gw.post('/v1/tasks', task({ session_id: 'patient' }))).status).toBe(202);
    expect(await turnsOf(gw, 'patient')).toBe(1);
  });

  it('gives the held turn back when a fail_closed audit commit rejects: 503, turns unchanged, queue empty', async () => {
    const recorder = failingFirstCommit();
    gw = await startGateway(testConfig({ audit: { backend: 'off', fail_closed: true } }), { recorder });
    expect((await gw.post('/v1/sessions', { session_id: 'one-turn', max_turns: 1 })).status).toBe(201);
    const refused = await gw.post('/v1/tasks', task({ session_id: 'one-turn' }));
    expect(refused.status).toBe(503);
    expect(errorOf(refused)).toMatchObject({ code: 'AUDIT_UNAVAILABLE', retriable: true });
    expect(await turnsOf(gw, 'one-turn')).toBe(0);
    expect(await depthOf(gw)).toBe(0);
    expect(gw.tasks.size).toBe(0);
    // Had the refused admission kept its hold, this one-turn session would now be used up.
    const admitted = await gw.post('/v1/tasks', task({ session_id: 'one-turn' }));
    expect(admitted.status).toBe(202);
    await expect.poll(async () => turnsOf(gw as TestGateway, 'one-turn')).toBe(1);
  });

  it('creates no session for a new session_id whose fail_closed audit commit rejects', async () => {
    const recorder: AdmissionRecorder = { accepting: () => true, commitAdmission: () => Promise.reject(new Error('down')) };
    gw = await startGateway(testConfig({ audit: { backend: 'off', fail_closed: true } }), { recorder });
    const refused = await gw.post('/v1/tasks', task({ session_id: 'unrecorded' }));
    expect(refused.status).toBe(503);
    expect((await gw.get('/v1/sessions/unrecorded')).status).toBe(404);
    expect(await depthOf(gw)).toBe(0);
  });

  it('admits exactly one of two concurrent tasks of a one-turn session; the other is BUDGET_EXCEEDED', async () => {
    // A slow commit keeps the first admission open while the second is decided.
    const recorder: AdmissionRecorder = { accepting: () => true, commitAdmission: () => new Promise((resolve) => setTimeout(resolve, 50)) };
    gw = await startGateway(testConfig({ audit: { backend: 'off', fail_closed: true } }), { recorder });
    expect((await gw.post('/v1/sessions', { session_id: 'single', max_turns: 1 })).status).toBe(201);
    const results = await Promise.all([gw.post('/v1/tasks', task({ session_id: 'single' })), gw.post('/v1/tasks', task({ session_id: 'single' }))]);
    expect(results.map((r) => r.status).sort()).toEqual([202, 402]);
    const refused = results.find((r) => r.status === 402) as HttpResult;
    expect(errorOf(refused)).toMatchObject({ code: 'BUDGET_EXCEEDED', budget: 'turns' });
    const admitted = results.find((r) => r.status === 202) as HttpResult;
    const id = (admitted.body as { task_id: string }).task_id;
    await expect.poll(async () => ((await (gw as TestGateway).get(`/v1/tasks/${id}`)).body as { state: string }).state).toBe('completed');
    expect(await turnsOf(gw, 'single')).toBe(1);
  });

  it('counts held turns of a new session against the default turn cap', async () => {
    const recorder: AdmissionRecorder = { accepting: () => true, commitAdmission: () => new Promise((resolve) => setTimeout(resolve, 50)) };
    gw = await startGateway(testConfig({ audit: { backend: 'off', fail_closed: true }, sessions: { max_turns: 1 } }), { recorder });
    const results = await Promise.all([gw.post('/v1/tasks', task({ session_id: 'implicit' })), gw.post('/v1/tasks', task({ session_id: 'implicit' }))]);
    expect(results.map((r) => r.status).sort()).toEqual([202, 402]);
    await expect.poll(async () => turnsOf(gw as TestGateway, 'implicit')).toBe(1);
  });
});
