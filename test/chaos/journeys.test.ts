// Standing chaos journeys (issue 10): the real gateway under engine crash, hang and slowness,
// Postgres down and frozen, SIGKILL and restart, and clients that disconnect. Each journey ends
// on the same invariants (journey-checks.ts): exactly one terminal event per admitted task (or
// one `abandoned` audit row after a restart) and no leaked slot. Each stays under 20 s.

import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG_INPUT } from '../../src/config/load.ts';
import { startLlamacppFake, type LlamacppFake, type LlamacppFakeOptions } from '../fakes/llamacpp/fake.ts';
import { exited, startGatewayProcess } from '../support/gateway-process.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { openStream, terminal, type ReceivedEvent } from '../support/sse-client.ts';
import { tcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { createTestDatabase, databaseUrl, testPgUrl } from '../integration/audit-backends.ts';
import { errorCode, expectNothingHeld, expectOneTerminalEach, submit, type Admitted } from './journey-checks.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

async function engines(options: LlamacppFakeOptions[]): Promise<LlamacppFake[]> {
  const fakes = await Promise.all(options.map((o) => startLlamacppFake({ slots: 2, ...o })));
  cleanups.push(async () => void (await Promise.all(fakes.map((f) => f.close()))));
  return fakes;
}

async function gateway(fakes: readonly LlamacppFake[], over: { pool?: Record<string, unknown>; config?: Record<string, unknown> } = {}): Promise<TestGateway> {
  const pool = {
    id: 'p',
    engine: 'llamacpp',
    model: 'm',
    health: { interval_ms: 50, max_backoff_ms: 200, breaker_failures: 3, breaker_open_ms: 300 },
    queue: { max_queued: 64 },
    ...over.pool,
    replicas: fakes.map((f, i) => ({ id: `r${i}`, url: f.url, options: { overload_retry_after_ms: 200, retry_attempts: 1 } })),
  };
  const g = await startGateway(testConfig({ pools: [pool], ...over.config }), { env: {} });
  cleanups.push(() => g.close());
  await expect.poll(async () => ((await g.get('/v1/pools/p')).body as { ready: boolean }).ready, { timeout: 5_000 }).toBe(true);
  return g;
}

const body = (over: Record<string, unknown> = {}) => ({ model: 'm', prompt: 'chaos', max_tokens: 20, ...over });

/** Submits `n` tasks and follows each stream to its end in the background. */
async function load(g: TestGateway, n: number, over: Record<string, unknown> = {}): Promise<{ admitted: Admitted[]; done: Promise<void> }> {
  const admitted: Admitted[] = [];
  const reads: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const id = await submit(g.url, body({ seed: i, ...over }));
    if (id === undefined) continue;
    const task: Admitted = { id };
    admitted.push(task);
    reads.push(openStream(`${g.url}/v1/tasks/${id}/stream`, { timeoutMs: 15_000 }).then((s) => void (task.events = s.events)));
  }
  return { admitted, done: Promise.all(reads).then(() => undefined) };
}

describe('chaos journeys', () => {
  it('engine crash: streams cut mid-way and an engine process gone end each task once and free every slot', { timeout: 20_000 }, async () => {
    const fakes = await engines([{ tokensPerS: 100, mode: { kind: 'reset-at-token', at: 3 } }, { tokensPerS: 100 }]);
    const [crashing, healthy] = fakes as [LlamacppFake, LlamacppFake];
    const g = await gateway(fakes);
    const first = await load(g, 8);
    // The healthy engine's process goes away while it streams, then comes back.
    await expect.poll(() => healthy.busySlots()).toBeGreaterThan(0);
    await healthy.refuseConnections();
    await first.done;
    await healthy.acceptConnections();
    await crashing.setMode('ready');
    const second = await load(g, 4);
    await second.done;
    const ends = await expectOneTerminalEach(g.url, [...first.admitted, ...second.admitted]);
    const codes = [...ends.values()].map(errorCode);
    expect(codes).toContain('WORKER_RESET');
    for (const task of second.admitted) expect(ends.get(task.id)).toMatchObject({ event: 'end', data: { finish_reason: 'length' } });
    await expectNothingHeld(g.url, 'p', fakes);
  });

  it('engine hang: a stream that stops sending ends with DECODE_TIMEOUT at the idle watchdog and frees its slot', { timeout: 20_000 }, async () => {
    const fakes = await engines([{ tokensPerS: 200, mode: { kind: 'hang-at-token', at: 2 } }]);
    const g = await gateway(fakes, { pool: { timeouts: { idle_ms: 300 } } });
    const run = await load(g, 4);
    await run.done;
    const ends = await expectOneTerminalEach(g.url, run.admitted);
    expect(run.admitted).toHaveLength(4);
    expect([...ends.values()].map(errorCode)).toEqual(['DECODE_TIMEOUT', 'DECODE_TIMEOUT', 'DECODE_TIMEOUT', 'DECODE_TIMEOUT']);
    await expectNothingHeld(g.url, 'p', fakes);
  });

  it('engine slow: tasks past their deadline expire running or queued, once each, and free every slot', { timeout: 20_000 }, async () => {
    const fakes = await engines([{ tokensPerS: 10 }]);
    const g = await gateway(fakes);
    // Two run, four wait; none can write 50 tokens at 10/s within 1.5 s.
    const run = await load(g, 6, { max_tokens: 50, deadline_ms: 1_500 });
    await run.done;
    const ends = await expectOneTerminalEach(g.url, run.admitted);
    for (const end of ends.values()) expect(errorCode(end)).toBe('DEADLINE_EXCEEDED');
    await expectNothingHeld(g.url, 'p', fakes);
  });

  it('client disconnects: readers that leave before, during or while queued free the engine after the grace', { timeout: 20_000 }, async () => {
    const fakes = await engines([{ tokensPerS: 50 }]);
    const g = await gateway(fakes, { config: { server: { orphan_grace_ms: 200 } } });
    const admitted: Admitted[] = [];
    const leave = async (over: Record<string, unknown>, until: (events: ReceivedEvent[]) => boolean) => {
      const stream = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: body({ max_tokens: 200, ...over }), until });
      admitted.push({ id: stream.headers['x-task-id'] as string });
    };
    // Two hold the slots, the others wait in the queue; every reader leaves early.
    await Promise.all([
      leave({}, (ev) => ev.some((e) => e.event === 'token')),
      leave({}, (ev) => ev.filter((e) => e.event === 'token').length >= 5),
      leave({}, () => true),
      leave({}, () => true),
      leave({ max_tokens: 10, detach: true }, () => true),
    ]);
    // Wait until nothing is held before reading again: a late reader within the grace would
    // (rightly) keep a task alive.
    await expectNothingHeld(g.url, 'p', fakes);
    const ends = await expectOneTerminalEach(g.url, admitted);
    const detached = admitted[4]?.id as string;
    for (const [id, end] of ends) {
      if (id === detached) expect(end).toMatchObject({ event: 'end', data: { finish_reason: 'length', tokens_out: 10 } });
      else expect(end).toMatchObject({ event: 'end', data: { finish_reason: 'canceled' } });
    }
    expect((await g.get('/metrics')).text).toMatch(/orchqueue_tasks_canceled_total\{pool="p",reason="orphaned"\} 4\b/);
  });
});

describe('chaos journeys with Postgres', () => {
  async function auditedGateway(): Promise<{ g: TestGateway; proxy: TcpProxy; fakes: LlamacppFake[] }> {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const target = new URL(testPgUrl());
    const proxy = await tcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    cleanups.push(() => proxy.close());
    const url = new URL(databaseUrl(database.name));
    url.port = String(proxy.port);
    const fakes = await engines([{ tokensPerS: 40 }]);
    const g = await gateway(fakes, { config: { audit: { backend: 'postgres', database_url: url.toString(), fail_closed: true } } });
    return { g, proxy, fakes };
  }

  /** Exactly one terminal row per admitted task, once the writer has caught up; the chain verifies. */
  async function expectAuditClosed(g: TestGateway, admitted: readonly Admitted[]): Promise<void> {
    for (const task of admitted) {
      await expect.poll(async () => ((await g.get(`/v1/audit?task_id=${task.id}&kind=terminal`)).body as { rows: unknown[] }).rows.length, { timeout: 10_000 }).toBe(1);
    }
    // And no admission row anywhere is left open (a refused admission must not leave one).
    const rows = async (kind: string) => ((await g.get(`/v1/audit?kind=${kind}&limit=1000`)).body as { rows: Array<{ task_id: string }> }).rows.map((r) => r.task_id);
    const terminals = await rows('terminal');
    for (const id of await rows('admission')) expect(terminals.filter((t) => t === id), `terminal rows of ${id}`).toHaveLength(1);
    expect((await g.post('/v1/audit/verify', undefined)).body).toMatchObject({ ok: true });
  }

  it('Postgres down: running work ends once each, new work is refused, and the record closes once it is back', { timeout: 20_000 }, async () => {
    const { g, proxy, fakes } = await auditedGateway();
    const before = await load(g, 3, { max_tokens: 20 });
    proxy.cut();
    // Refused while the store is unreachable: nothing admitted that cannot be recorded.
    await expect.poll(async () => (await g.post('/v1/tasks', body())).status, { timeout: 8_000 }).toBe(503);
    await before.done;
    proxy.restore();
    let after: Admitted[] = [];
    await expect.poll(async () => {
      const id = await submit(g.url, body({ max_tokens: 4 }));
      if (id !== undefined) after = [{ id }];
      return id !== undefined;
    }, { timeout: 10_000, interval: 200 }).toBe(true);
    const all = [...before.admitted, ...after];
    await expectOneTerminalEach(g.url, all);
    await expectNothingHeld(g.url, 'p', fakes);
    await expectAuditClosed(g, all);
  });

  it('Postgres frozen: admissions time out into AUDIT_UNAVAILABLE without holding a queue place, and resume after', { timeout: 20_000 }, async () => {
    const { g, proxy, fakes } = await auditedGateway();
    const before = await load(g, 2, { max_tokens: 10 });
    proxy.freeze();
    const began = performance.now();
    const frozen = await Promise.all([g.post('/v1/tasks', body()), g.post('/v1/tasks', body())]);
    for (const res of frozen) expect(res.body).toMatchObject({ error: { code: 'AUDIT_UNAVAILABLE', retriable: true } });
    expect(performance.now() - began).toBeLessThan(8_000);
    await before.done;
    await expectNothingHeld(g.url, 'p', fakes);
    proxy.restore();
    let after: Admitted[] = [];
    await expect.poll(async () => {
      const id = await submit(g.url, body({ max_tokens: 4 }));
      if (id !== undefined) after = [{ id }];
      return id !== undefined;
    }, { timeout: 8_000, interval: 200 }).toBe(true);
    const all = [...before.admitted, ...after];
    await expectOneTerminalEach(g.url, all);
    await expectNothingHeld(g.url, 'p', fakes);
    await expectAuditClosed(g, all);
  });

  // About 12 s alone; two process starts on a busy two-core runner take longer, hence the margin.
  it('gateway SIGKILL and restart: every task in flight gets one abandoned row, and the new process holds no slot', { timeout: 30_000 }, async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const dir = await mkdtemp(join(tmpdir(), 'orchqueue-journey-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const configPath = join(dir, 'config.json');
    await writeFile(configPath, JSON.stringify({
      ...DEFAULT_CONFIG_INPUT,
      server: { host: '127.0.0.1', port: 0 },
      // Two tokens a second: every task is queued or running at the kill.
      pools: [{ id: 'demo', engine: 'mock', model: 'demo', replicas: [{ id: 'mock-0', slots: 2, mock: { tokens_per_s: 2 } }] }],
      audit: { backend: 'postgres', fail_closed: true },
      telemetry: { log_level: 'info', metrics: false },
    }));
    const env = { DATABASE_URL: databaseUrl(database.name) };
    const first = await startGatewayProcess(configPath, env);
    cleanups.push(async () => {
      first.process.kill('SIGKILL');
      await exited(first.process);
    });
    const inFlight: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = await submit(first.address, { model: 'demo', prompt: `kill ${i}`, max_tokens: 100 });
      if (id !== undefined) inFlight.push(id);
    }
    expect(inFlight).toHaveLength(5);
    first.process.kill('SIGKILL');
    await exited(first.process);

    const second = await startGatewayProcess(configPath, env);
    cleanups.push(async () => {
      second.process.kill('SIGTERM');
      await exited(second.process);
    });
    for (const id of inFlight) {
      const res = await request(`${second.address}/v1/audit?task_id=${id}&kind=terminal`);
      const rows = ((await res.body.json()) as { rows: Array<{ data: { state: string } }> }).rows;
      expect(rows.map((r) => r.data.state), id).toEqual(['abandoned']);
    }
    await expectNothingHeld(second.address, 'demo');
    // The restarted gateway serves: a new task ends once, and leaves nothing held.
    const fresh = await openStream(`${second.address}/v1/tasks`, { method: 'POST', body: { model: 'demo', prompt: 'after', max_tokens: 2 } });
    expect(terminal(fresh.events)).toEqual([expect.objectContaining({ event: 'end' })]);
    await expectNothingHeld(second.address, 'demo');
  });
});
