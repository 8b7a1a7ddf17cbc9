// The admission commit point seen from the API: with audit.fail_closed a store that cannot
// record refuses work (503 AUDIT_UNAVAILABLE) and admits nothing; with fail_closed off the
// gateway keeps serving. A 202 is only ever sent after the admission row is committed.

import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { AdmissionRecorder, AdmittedFact } from '../../src/core/observer.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

class FlakyRecorder implements AdmissionRecorder {
  up = true;
  failCommits = false;
  committed: AdmittedFact[] = [];
  accepting(): boolean {
    return this.up;
  }
  async commitAdmission(fact: AdmittedFact): Promise<void> {
    await new Promise((r) => setTimeout(r, 5));
    if (this.failCommits) throw new Error('store went away');
    this.committed.push(fact);
  }
}

const task = { model: 'demo', prompt: 'hello', max_tokens: 2 };

describe('admission and the audit store', () => {
  it('answers 202 only after the admission row is committed', async () => {
    const recorder = new FlakyRecorder();
    gw = await startGateway(testConfig({ audit: { backend: 'off', fail_closed: true } }), { recorder });
    const res = await gw.post('/v1/tasks', task);
    expect(res.status).toBe(202);
    expect(recorder.committed.map((f) => f.task_id)).toEqual([(res.body as { task_id: string }).task_id]);
  });

  it('refuses with 503 AUDIT_UNAVAILABLE while the store is not accepting, admitting nothing', async () => {
    const recorder = new FlakyRecorder();
    recorder.up = false;
    gw = await startGateway(testConfig({ audit: { backend: 'off', fail_closed: true } }), { recorder });
    const res = await gw.post('/v1/tasks', task);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect((res.body as { error: Record<string, unknown> }).error).toMatchObject({ code: 'AUDIT_UNAVAILABLE', retriable: true });
    expect(gw.tasks.size).toBe(0);
  });

  it('refuses and rolls back a task whose commit fails: no visible task, no queue entry, no session turn', async () => {
    const recorder = new FlakyRecorder();
    recorder.failCommits = true;
    gw = await startGateway(testConfig({ audit: { backend: 'off', fail_closed: true } }), { recorder });
    await gw.post('/v1/sessions', { session_id: 'audited' });
    const res = await gw.post('/v1/tasks', { ...task, session_id: 'audited', task_id: '7c1e2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b' });
    expect(res.status).toBe(503);
    expect((await gw.get('/v1/tasks/7c1e2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b')).status).toBe(404);
    expect(gw.tasks.size).toBe(0);
    expect(((await gw.get('/v1/pools/demo')).body as { queue: { depth: number } }).queue.depth).toBe(0);
    expect(((await gw.get('/v1/sessions/audited')).body as { turns: number }).turns).toBe(0);
  });

  it('records only a sha256 of the prompt, and only when audit.hash_prompts is on', async () => {
    const recorder = new FlakyRecorder();
    gw = await startGateway(testConfig({ audit: { backend: 'off', hash_prompts: true } }), { recorder });
    await gw.post('/v1/tasks', task);
    expect(recorder.committed[0]?.prompt_sha256).toBe(createHash('sha256').update('hello').digest('hex'));
    expect(JSON.stringify(recorder.committed)).not.toContain('"hello"');
    await gw.close();
    const plain = new FlakyRecorder();
    gw = await startGateway(testConfig({ audit: { backend: 'off' } }), { recorder: plain });
    await gw.post('/v1/tasks', task);
    expect(plain.committed[0]).not.toHaveProperty('prompt_sha256');
  });

  it('keeps serving with fail_closed off when commits fail', async () => {
    const recorder = new FlakyRecorder();
    recorder.failCommits = true;
    gw = await startGateway(testConfig({ audit: { backend: 'off', fail_closed: false } }), { recorder });
    expect((await gw.post('/v1/tasks', task)).status).toBe(202);
  });
});
