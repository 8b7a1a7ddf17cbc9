// Issue 15: a replica killed mid-stream. After its lease expires a survivor ends each task it was
// running with exactly one retriable terminal error naming it; the tasks it admitted that were
// still queued run elsewhere; the shared audit database tells each task's end.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, databaseUrl } from '../integration/audit-backends.ts';
import { redisBackendRefusal, startCluster, type Cluster, type ClusterGateway } from '../support/cluster.ts';
import { terminal } from '../support/sse-client.ts';
import { follow, getJson, postJson, sequenceProblem, taskBody, type Follower } from './cluster-load.ts';

const refusal = await redisBackendRefusal();
const skipped = refusal === undefined ? '' : ` — skipped, the gateway refuses the backend: ${refusal}`;

const LEASE_MS = 1_000;
const MAX_TOKENS = 40;
const TASKS = 10;
const SLOTS = 4;

describe.skipIf(refusal !== undefined)(`replica loss in a redis-backend cluster${skipped}`, () => {
  let c: Cluster;
  let database: { name: string; drop(): Promise<void> };
  beforeAll(async () => {
    database = await createTestDatabase();
    const started = await startCluster({
      backend: 'redis',
      leaseMs: LEASE_MS,
      // Four slots in all for ten two-second tasks: some run, the rest wait in the queue.
      engines: [{ slots: SLOTS / 2, tokensPerS: 20 }, { slots: SLOTS / 2, tokensPerS: 20 }],
      config: { audit: { backend: 'postgres', fail_closed: true } },
      databaseUrl: databaseUrl(database.name),
    });
    if (!started.ok) throw new Error(started.refusal);
    c = started.cluster;
  }, 90_000);
  afterAll(async () => {
    await c?.close();
    await database?.drop();
  });

  it('SIGKILL of a replica mid-stream: its readers resuming elsewhere get one retriable terminal error naming it, its queued tasks run elsewhere', { timeout: 45_000 }, async () => {
    const [a, b] = c.gateways as [ClusterGateway, ClusterGateway];
    const tasks: Array<{ id: string; prompt: string; onA: Follower }> = [];
    for (let i = 0; i < TASKS; i++) {
      const prompt = `replica loss task ${i}`;
      const res = await postJson(a, '/v1/tasks', taskBody(prompt, MAX_TOKENS));
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      const id = (res.body as { task_id: string }).task_id;
      tasks.push({ id, prompt, onA: follow(a, id) });
    }
    const generations = () => c.engines.flatMap((e) => e.meter.generations);
    // Wait until every engine slot streams (nothing more can start until one ends) and A's readers get tokens.
    await expect.poll(() => generations().filter((g) => g.closedAtMs === undefined).length, { timeout: 10_000 }).toBe(SLOTS);
    await expect.poll(() => tasks.filter((t) => t.onA.events.some((e) => e.event === 'token')).length, { timeout: 10_000 }).toBeGreaterThan(0);
    const runningOnA = new Set(generations().filter((g) => g.gateway === a.replicaId && g.closedAtMs === undefined).map((g) => g.prompt));
    const started = new Set(generations().map((g) => g.prompt));
    const queued = tasks.filter((t) => !started.has(t.prompt));
    expect(runningOnA.size, 'A runs some of the tasks').toBeGreaterThan(0);
    expect(queued.length, 'some tasks wait in the queue').toBeGreaterThan(0);

    await a.kill('SIGKILL');
    const killedAt = Date.now();
    // Every client reconnects at once (through the balancer, to a survivor) from what it read.
    await Promise.all(tasks.map((t) => t.onA.done));
    const resumedOnB = tasks.map((t) => follow(b, t.id, t.onA.events.at(-1)?.id));
    const ends = new Map<string, ReturnType<typeof terminal>[number]>();
    for (const [i, task] of tasks.entries()) {
      const resumed = resumedOnB[i] as Follower;
      expect(await resumed.done, task.prompt).toBe(true);
      const whole = [...task.onA.events, ...resumed.events];
      expect(sequenceProblem(whole), task.prompt).toBeUndefined();
      const found = terminal(whole);
      expect(found, task.prompt).toHaveLength(1);
      ends.set(task.prompt, found[0] as (typeof found)[number]);
    }

    for (const task of tasks) {
      const end = ends.get(task.prompt);
      if (runningOnA.has(task.prompt)) {
        expect(end, task.prompt).toMatchObject({ event: 'error', data: { code: 'WORKER_RESET', retriable: true } });
        expect(String(end?.data.message), task.prompt).toContain(a.replicaId);
      } else {
        expect(end, task.prompt).toMatchObject({ event: 'end', data: { finish_reason: 'length', tokens_out: MAX_TOKENS } });
      }
    }
    // A's queued tasks ran on the survivors, after the kill.
    for (const task of queued) {
      const ran = generations().filter((g) => g.prompt === task.prompt);
      expect(ran.map((g) => g.gateway), task.prompt).toEqual([expect.not.stringMatching(a.replicaId)]);
      expect(ran[0]?.openedAtMs, task.prompt).toBeGreaterThanOrEqual(killedAt);
    }

    // The status and the shared audit database say the same from any survivor.
    for (const task of tasks) {
      const status = (await getJson(b, `/v1/tasks/${task.id}`)).body as { state: string; error?: { code: string } };
      // Audit rows are committed in groups just after the events: wait for this task's.
      const terminalRows = async () => ((await getJson(b, `/v1/audit?task_id=${task.id}&kind=terminal`)).body as { rows: Array<{ data: Record<string, unknown> }> }).rows;
      await expect.poll(async () => (await terminalRows()).length, { timeout: 5_000 }).toBe(1);
      const rows = await terminalRows();
      if (runningOnA.has(task.prompt)) {
        expect(status, task.prompt).toMatchObject({ state: 'failed', error: { code: 'WORKER_RESET' } });
        expect(rows[0]?.data, task.prompt).toMatchObject({ state: 'failed', error_code: 'WORKER_RESET' });
      } else {
        expect(status.state, task.prompt).toBe('completed');
        expect(rows[0]?.data, task.prompt).toMatchObject({ state: 'completed' });
      }
    }
  });
});
