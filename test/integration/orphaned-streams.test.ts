// Abandoned streams free their engine (issue 10 finding 7, ORCH-0206): behind the llama.cpp
// fake, a client that disconnects and stays away for `server.orphan_grace_ms` gets its task
// canceled with reason `orphaned` (end event, status, audit row, metrics) and the engine sees
// the abort; a client that comes back in time, or that submitted with `detach: true`, keeps it.

import { afterEach, describe, expect, it } from 'vitest';
import { startLlamacppFake, type LlamacppFake } from '../fakes/llamacpp/fake.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { openStream, terminal } from '../support/sse-client.ts';
import { createTestDatabase, databaseUrl } from './audit-backends.ts';
import { waitFor } from './engines-support.ts';

let gw: TestGateway | undefined;
let fake: LlamacppFake | undefined;
let database: { name: string; drop(): Promise<void> } | undefined;
afterEach(async () => {
  await gw?.close();
  await fake?.close();
  await database?.drop();
  gw = undefined;
  fake = undefined;
  database = undefined;
});

const GRACE_MS = 250;

/** 50 tokens a second and 150 to write: a task left alone runs 3 s, far beyond the grace. */
async function setup(audit: Record<string, unknown> = { backend: 'off' }): Promise<{ g: TestGateway; f: LlamacppFake }> {
  fake = await startLlamacppFake({ slots: 1, tokensPerS: 50 });
  gw = await startGateway(testConfig({
    server: { orphan_grace_ms: GRACE_MS },
    pools: [{ id: 'p', engine: 'llamacpp', model: 'm', health: { interval_ms: 50 }, replicas: [{ id: 'r0', url: fake.url }] }],
    audit,
  }), { env: {} });
  return { g: gw, f: fake };
}

const body = (over: Record<string, unknown> = {}) => ({ model: 'm', prompt: 'a long story', max_tokens: 150, ...over });
const completions = (f: LlamacppFake) => f.seen.filter((s) => s.method === 'POST' && s.path.startsWith('/completion'));
const statusOf = async (g: TestGateway, id: string) => (await g.get(`/v1/tasks/${id}`)).body as Record<string, unknown>;
const slotsBusy = async (g: TestGateway) => ((await g.get('/v1/pools/p')).body as { slots: { busy: number } }).slots.busy;

describe('orphaned streams', () => {
  it('cancels a task whose only reader disconnected, aborts the engine call and records reason orphaned', async () => {
    database = await createTestDatabase();
    const { g, f } = await setup({ backend: 'postgres', database_url: databaseUrl(database.name) });
    const first = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: body(), until: (ev) => ev.filter((e) => e.event === 'token').length >= 2 });
    const id = first.headers['x-task-id'] as string;
    const seen = completions(f)[0];
    await waitFor(() => seen?.aborted === true, 5_000, 'the engine observed the abort');
    const status = await statusOf(g, id);
    expect(status).toMatchObject({ state: 'canceled', finish_reason: 'canceled' });
    expect(status.tokens_out as number).toBeLessThan(150);
    expect(seen?.tokensSent).toBeLessThan(150);
    expect(await slotsBusy(g)).toBe(0);
    // A late reader gets the whole story, ending in one `end` with finish_reason canceled.
    const late = await openStream(`${g.url}/v1/tasks/${id}/stream`);
    expect(terminal(late.events)).toEqual([expect.objectContaining({ event: 'end', data: expect.objectContaining({ finish_reason: 'canceled' }) })]);
    const metrics = (await g.get('/metrics')).text;
    expect(metrics).toMatch(/orchqueue_tasks_canceled_total\{pool="p",reason="orphaned"\} 1\b/);
    await waitFor(async () => ((await g.get(`/v1/audit?task_id=${id}&kind=terminal`)).body as { rows: unknown[] }).rows.length === 1, 5_000, 'the terminal audit row');
    const rows = ((await g.get(`/v1/audit?task_id=${id}&kind=terminal`)).body as { rows: Array<{ data: Record<string, unknown> }> }).rows;
    expect(rows[0]?.data).toMatchObject({ state: 'canceled', finish_reason: 'canceled', cancel_reason: 'orphaned' });
  });

  it('keeps the task when its reader comes back within the grace with Last-Event-ID', async () => {
    const { g, f } = await setup();
    const first = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: body({ max_tokens: 40 }), until: (ev) => ev.some((e) => e.event === 'token') });
    const id = first.headers['x-task-id'] as string;
    const lastId = first.events.at(-1)?.id as number;
    const rest = await openStream(`${g.url}/v1/tasks/${id}/stream`, { headers: { 'last-event-id': String(lastId) } });
    expect(rest.events.at(-1)).toMatchObject({ event: 'end', data: { finish_reason: 'length', tokens_out: 40 } });
    expect(completions(f)[0]?.aborted).toBe(false);
  });

  it('lets a task submitted with detach: true run to its end after its reader left', async () => {
    const { g, f } = await setup();
    const first = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: body({ max_tokens: 40, detach: true }), until: (ev) => ev.some((e) => e.event === 'token') });
    const id = first.headers['x-task-id'] as string;
    await waitFor(async () => (await statusOf(g, id)).state !== 'running', 10_000, 'the task ended');
    expect(await statusOf(g, id)).toMatchObject({ state: 'completed', finish_reason: 'length', tokens_out: 40 });
    expect(completions(f)[0]).toMatchObject({ aborted: false, finished: true });
  });

  it('refuses a detach that is not a boolean, naming the field', async () => {
    const { g } = await setup();
    const res = await g.post('/v1/tasks', body({ detach: 'yes' }));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'INVALID_PARAMS', field: 'detach' } });
  });
});
