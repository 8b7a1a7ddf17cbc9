// A task claimed by a replica other than its admitter while the admitter still commits the audit
// row: the claimer waits for the verdict the admitter announces (no polling), starts the engine
// call only after the commit, and never calls the engine when the commit is refused.
// Gateway A's engine replica gets no capacity in Redis, so every task A admits is claimed by B.

import { afterEach, describe, expect, it } from 'vitest';
import type { AdmissionRecorder } from '../../src/core/observer.ts';
import type { VllmFake } from '../fakes/vllm/fake.ts';
import { gatewayPair } from '../support/cluster-pair.ts';
import { openStream } from '../support/sse-client.ts';
import { until } from '../support/until.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});


/** A admits through `recorder` onto engine replica `va` (parked); B runs everything on `vb`. */
async function admitterAndClaimer(recorder: AdmissionRecorder) {
  const { a, b, fakes: [fakeA, fakeB], redis, keys } = await gatewayPair({ parked: 'va', tokensPerS: 200, composeA: { recorder }, cleanups });
  return { a, b, fakeA, fakeB, redis, keys };
}

const posts = (fake: VllmFake) => fake.seen.filter((r) => r.method === 'POST');

describe('a task claimed before its admitter committed', () => {
  it('starts on the claimer only after the admitter committed, woken by the verdict with at most two reads of it', async () => {
    // What the claimer's engine had received when the row was committed.
    let engineCallsAtCommit: number | undefined;
    const engines: { claimer?: VllmFake } = {};
    const recorder: AdmissionRecorder = {
      accepting: () => true,
      commitAdmission: () => new Promise((resolve) => setTimeout(() => { engineCallsAtCommit = engines.claimer ? posts(engines.claimer).length : -1; resolve(); }, 600)),
    };
    const { a, b, fakeA, fakeB, redis, keys } = await admitterAndClaimer(recorder);
    engines.claimer = fakeB;
    const monitor = await redis.client.duplicate().monitor();
    cleanups.push(async () => void monitor.disconnect());
    const reads: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      const command = String(args[0]).toLowerCase();
      if ((command === 'get' || command === 'mget') && args.some((arg) => arg.endsWith('}:committed'))) reads.push(args);
    });
    const accepted = await a.post('/v1/tasks', { model: 'demo', prompt: 'slow commit', max_tokens: 5 });
    expect(accepted.status).toBe(202);
    const id = (accepted.body as { task_id: string }).task_id;
    const stream = await openStream(`${b.url}/v1/tasks/${id}/stream`);
    expect(stream.events.at(-1)).toMatchObject({ event: 'end' });
    expect(b.tasks.get(id)).toBeDefined();
    expect(posts(fakeA)).toEqual([]);
    expect(engineCallsAtCommit).toBe(0);
    expect(posts(fakeB)).toHaveLength(1);
    const ofTask = reads.filter((args) => args.includes(keys.committed(id)));
    expect(ofTask.length).toBeGreaterThanOrEqual(1);
    expect(ofTask.length).toBeLessThanOrEqual(2);
  }, 30_000);

  it('writes no verdict for a task its admitter\'s own claim took, and one for a task another replica claimed', async () => {
    const recorder: AdmissionRecorder = { accepting: () => true, commitAdmission: () => Promise.resolve() };
    const { a, b, redis, keys } = await admitterAndClaimer(recorder);
    // B's engine replica has room: B's admission claims its own task in the same round trip.
    const own = await b.post('/v1/tasks', { model: 'demo', prompt: 'claimed by its admitter', max_tokens: 3 });
    const ownId = (own.body as { task_id: string }).task_id;
    expect((await openStream(`${b.url}/v1/tasks/${ownId}/stream`)).events.at(-1)).toMatchObject({ event: 'end' });
    expect(b.tasks.get(ownId)).toBeDefined();
    // A has no capacity in Redis: B claims A's task and must read A's verdict.
    const other = await a.post('/v1/tasks', { model: 'demo', prompt: 'claimed elsewhere', max_tokens: 3 });
    const otherId = (other.body as { task_id: string }).task_id;
    expect((await openStream(`${b.url}/v1/tasks/${otherId}/stream`)).events.at(-1)).toMatchObject({ event: 'end' });
    expect(await redis.client.exists(keys.committed(ownId))).toBe(0);
    expect(await redis.client.get(keys.committed(otherId))).toBe('1');
  }, 30_000);

  it('never calls the engine on the claimer when the admitter\'s commit is refused, and frees the slot', async () => {
    const recorder: AdmissionRecorder = {
      accepting: () => true,
      commitAdmission: () => new Promise((_resolve, reject) => setTimeout(() => reject(new Error('audit store down')), 400)),
    };
    const { a, b, fakeA, fakeB, redis, keys } = await admitterAndClaimer(recorder);
    const refused = await a.post('/v1/tasks', { model: 'demo', prompt: 'refused by the audit', max_tokens: 5 });
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ error: { code: 'AUDIT_UNAVAILABLE' } });
    await until(async () => ((await redis.client.hget(keys.pool('demo').busy, 'vb')) ?? '0') === '0' ? true : undefined);
    expect(posts(fakeA)).toEqual([]);
    expect(posts(fakeB)).toEqual([]);
    expect(a.tasks.size + b.tasks.size).toBe(0);
  }, 30_000);
});
