// The engine call starts while the admission row's commit is in flight (issue 14), on real
// HTTP with a real llama.cpp fake, a real audit writer and a real store (PGlite and server
// Postgres) whose commits the test holds: nothing of the task reaches the client before its
// row is committed, and a commit that fails refuses the task, aborts the engine call and
// leaves nothing behind.

import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditStore } from '../../src/audit/store.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import { SseParser } from '../../src/transport/sse-parser.ts';
import { startLlamacppFake, type LlamacppFake } from '../fakes/llamacpp/fake.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { BACKENDS, faultyStore, recordingLogger, until } from './audit-backends.ts';

/** A store whose appends wait while the test holds them, and fail while it is `down`. */
function heldStore(inner: AuditStore) {
  const faulty = faultyStore(inner);
  const append = faulty.append;
  let gate: Promise<void> | null = null;
  let open = (): void => undefined;
  return Object.assign(faulty, {
    append: async (rows: Parameters<AuditStore['append']>[0]) => {
      if (gate !== null) await gate;
      return append(rows);
    },
    hold(): void {
      gate = new Promise((resolve) => { open = resolve; });
    },
    release(): void {
      gate = null;
      open();
    },
  });
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(backend: (typeof BACKENDS)[number], engine: LlamacppFake): Promise<{ gw: TestGateway; store: ReturnType<typeof heldStore>; inner: AuditStore; writer: AuditWriter }> {
  const fresh = await backend.fresh();
  cleanups.push(fresh.dispose);
  const store = heldStore(fresh.store);
  const writer = await AuditWriter.start({ batch_max_rows: 256, batch_max_ms: 5, buffer_max_rows: 1_000, fail_closed: true }, { store, logger: recordingLogger(), retryInitialMs: 10, retryMaxMs: 50 });
  cleanups.push(() => writer.close(1_000));
  const gw = await startGateway(
    testConfig({ pools: [{ id: 'demo', engine: 'llamacpp', model: 'demo', replicas: [{ id: 'r0', url: engine.url, slots: 2 }] }], audit: { backend: 'off', fail_closed: true } }),
    { recorder: writer, observers: [writer] },
  );
  cleanups.push(() => gw.close());
  return { gw, store, inner: fresh.store, writer };
}

async function engineFake(tokensPerS: number): Promise<LlamacppFake> {
  const engine = await startLlamacppFake({ slots: 2, tokensPerS });
  cleanups.push(() => engine.close());
  return engine;
}

const submit = (gw: TestGateway, body: Record<string, unknown>) =>
  request(`${gw.url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream' }, body: JSON.stringify(body) });

describe.each(BACKENDS)('admission with the engine call started early, on $name', (backend) => {
  it('sends the stream only once the admission row is committed, though the engine ran meanwhile', async () => {
    const engine = await engineFake(0);
    const { gw, store, inner } = await setup(backend, engine);
    const taskId = randomUUID();
    store.hold();
    let answered = false;
    const pending = submit(gw, { model: 'demo', prompt: 'held until recorded', max_tokens: 4, task_id: taskId });
    void pending.then(() => { answered = true; }, () => undefined);
    // The engine got the request and wrote its whole stream while the commit is held.
    await until(() => engine.seen.some((r) => r.path === '/completion' && r.finished), 10_000);
    expect(engine.seen.find((r) => r.path === '/completion')?.tokensSent).toBe(4);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(answered).toBe(false);
    expect(await inner.query({ task_id: taskId, limit: 10 })).toEqual([]);
    store.release();
    const res = await pending;
    expect(res.statusCode).toBe(200);
    const parser = new SseParser();
    const events: string[] = [];
    let rowsAtFirstToken: string[] | undefined;
    for await (const chunk of res.body) {
      for (const message of parser.push(chunk as Uint8Array)) {
        events.push(message.event ?? 'message');
        if (message.event === 'token' && rowsAtFirstToken === undefined) {
          rowsAtFirstToken = (await inner.query({ task_id: taskId, limit: 10 })).map((row) => row.kind);
        }
      }
    }
    expect(events).toEqual(['started', 'token', 'token', 'token', 'token', 'metrics', 'end']);
    expect(rowsAtFirstToken?.[0]).toBe('admission');
  }, 60_000);

  it('refuses with AUDIT_UNAVAILABLE and no token when the commit fails, aborts the engine call it started, and leaves nothing behind', async () => {
    // Slow enough that the call is still streaming when the commit fails.
    const engine = await engineFake(20);
    const { gw, store, inner, writer } = await setup(backend, engine);
    const taskId = randomUUID();
    store.hold();
    const pending = submit(gw, { model: 'demo', prompt: 'never recorded', max_tokens: 200, task_id: taskId });
    await until(() => engine.seen.some((r) => r.path === '/completion' && r.tokensSent > 0), 10_000);
    store.down = true;
    store.release();
    const res = await pending;
    expect(res.statusCode).toBe(503);
    expect(String(res.headers['content-type'])).toContain('application/json');
    const body = (await res.body.json()) as { error: { code: string } };
    expect(body.error.code).toBe('AUDIT_UNAVAILABLE');
    const call = await engine.settled(engine.seen.findIndex((r) => r.path === '/completion'));
    expect([call.aborted, call.finished]).toEqual([true, false]);
    expect(call.tokensSent).toBeLessThan(200);
    // Nothing behind: no task, no queue entry, no busy slot, and no row of an admitted task once the store is back.
    expect((await gw.get(`/v1/tasks/${taskId}`)).status).toBe(404);
    expect(gw.tasks.size).toBe(0);
    expect(((await gw.get('/v1/pools/demo')).body as { queue: { depth: number }; slots: { busy: number } })).toMatchObject({ queue: { depth: 0 }, slots: { busy: 0 } });
    store.down = false;
    await until(() => writer.accepting(), 10_000);
    await writer.flush();
    // The refusal is on record; no admission, placement or terminal row is.
    expect((await inner.query({ task_id: taskId, limit: 10 })).map((row) => `${row.kind}:${String(row.data.code)}`)).toEqual(['rejection:AUDIT_UNAVAILABLE']);
    // The same gateway admits the next task once the store is back.
    const next = await submit(gw, { model: 'demo', prompt: 'recorded', max_tokens: 2 });
    expect(next.statusCode).toBe(200);
    await next.body.text();
  }, 60_000);
});
