// Finished tasks stay readable for server.retention_ms, and at most server.max_finished_tasks
// of them: the oldest are forgotten first, so memory stays bounded under sustained load.

import { afterEach, describe, expect, it } from 'vitest';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
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
