// Finished tasks stay readable for server.retention_ms, and at most server.max_finished_tasks
// of them: the oldest are forgotten first, so memory stays bounded under sustained load.

import { randomUUID } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { mockPool, startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { openStream } from '../support/sse-client.ts';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

const run = async (g: TestGateway, prompt: string) => {
  const stream = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: { model: 'demo', prompt, max_tokens: 2 } });
  return stream.headers['x-task-id'] as string;
};

describe('retention of finished tasks', () => {
  // ORCH-0905
  it('forgets the oldest finished tasks beyond max_finished_tasks, and keeps running ones', async () => {
    gw = await startGateway(testConfig({ server: { max_finished_tasks: 2 } }));
    const ids = [await run(gw, 'one'), await run(gw, 'two'), await run(gw, 'three')];
    expect((await gw.get(`/v1/tasks/${ids[0]}`)).status).toBe(404);
    expect((await gw.get(`/v1/tasks/${ids[0]}/stream`)).status).toBe(404);
    for (const id of ids.slice(1)) expect((await gw.get(`/v1/tasks/${id}`)).status).toBe(200);
    expect(gw.tasks.size).toBe(2);
  });

  // ORCH-0905
  it('lets a forgotten client task_id be used again (its idempotency entry goes with it)', async () => {
    gw = await startGateway(testConfig({ server: { max_finished_tasks: 1 } }));
    const task_id = '5a5a5a5a-1111-4222-8333-444444444444';
    const body = { model: 'demo', prompt: 'first', max_tokens: 2, task_id };
    await openStream(`${gw.url}/v1/tasks`, { method: 'POST', body });
    await run(gw, 'pushes the first one out');
    const again = await gw.post('/v1/tasks', { ...body, prompt: 'a different body is no conflict now' });
    expect(again.status).toBe(202);
  });
});

/** A full collection when the runtime allows it (flags set at run time), else undefined. */
function exposeGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

async function heapAfterGc(gc: (() => void) | undefined): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

const metricValue = (text: string, name: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1]);
};

// ORCH-0903 (issue 10 finding 1)
describe('memory under a flood of large prompts', () => {
  it('keeps retained bytes under retention_max_bytes and the heap flat after 500 prompts of 150k characters', { timeout: 120_000 }, async () => {
    const boundBytes = 1_048_576;
    gw = await startGateway(testConfig({
      server: { retention_ms: 600_000, retention_max_bytes: boundBytes, max_prompt_chars: 200_000 },
      pools: [mockPool({ replicas: [{ id: 'mock-0', slots: 8, mock: { ctx_max: 65_536 } }] })],
    }));
    const g = gw;
    const gc = exposeGc();
    // Warm the paths (parsers, JIT, pools) so the baseline is not their first allocation.
    for (let i = 0; i < 8; i++) await g.post('/v1/tasks', { model: 'demo', prompt: 'w'.repeat(150_000), max_tokens: 2 });
    await expect.poll(() => g.pools.get('demo')?.status().slots.busy).toBe(0);
    const before = await heapAfterGc(gc);

    const count = 500;
    const ids: string[] = [];
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < count; i = next++) {
        const task_id = randomUUID();
        // Each prompt differs, so no string is shared between tasks.
        const res = await g.post('/v1/tasks', { model: 'demo', prompt: `${i} `.padEnd(150_000, 'p'), max_tokens: 2, task_id });
        expect(res.status).toBe(202);
        ids.push(task_id);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    // Every task ends (the mock engine is fast); then only retention holds them.
    await expect.poll(async () => (await g.get(`/v1/tasks/${ids.at(-1)}`)).body, { timeout: 20_000 }).toMatchObject({ state: 'completed' });
    await expect.poll(() => g.pools.get('demo')?.status().slots.busy, { timeout: 20_000 }).toBe(0);

    const retained = metricValue((await g.get('/metrics')).text, 'orchqueue_retained_task_bytes');
    expect(retained).toBeGreaterThan(0);
    expect(retained).toBeLessThanOrEqual(boundBytes);
    expect(g.tasks.retainedBytes).toBe(retained);
    // Prompts alone were 500 × 150k characters (75 MB); what stays is the bound plus noise.
    const grown = (await heapAfterGc(gc)) - before;
    const slack = gc ? 16 * 1_048_576 : 48 * 1_048_576;
    expect(grown).toBeLessThan(boundBytes + slack);
    // The newest tasks are still readable; the oldest were forgotten to keep the bound.
    expect((await g.get(`/v1/tasks/${ids.at(-1)}`)).status).toBe(200);
    expect((await g.get(`/v1/tasks/${ids[0]}`)).status).toBe(404);
  });
});
