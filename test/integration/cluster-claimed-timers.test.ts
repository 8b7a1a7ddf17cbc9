// The unclaimed-stream timeout of a task run by a replica other than its admitter: it counts a
// reader on any replica. Gateway A's engine replica gets no capacity in Redis, so every task A
// admits runs on B; the client's stream, when it opens one, is on A.

import { afterEach, describe, expect, it } from 'vitest';
import { gatewayPair } from '../support/cluster-pair.ts';
import type { TestGateway } from '../support/gateway.ts';
import { openStream } from '../support/sse-client.ts';
import { until } from '../support/until.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});


function admitterAndRunner(): Promise<{ a: TestGateway; b: TestGateway }> {
  return gatewayPair({ parked: 'va', server: { unclaimed_stream_timeout_ms: 1_000 }, cleanups });
}

describe('the unclaimed-stream timeout of a task run on another replica', () => {
  it('cancels the task on its runner when no replica opened its stream in time', async () => {
    const { a, b } = await admitterAndRunner();
    const accepted = await a.post('/v1/tasks', { model: 'demo', prompt: 'nobody reads this', max_tokens: 400 });
    expect(accepted.status).toBe(202);
    const id = (accepted.body as { task_id: string }).task_id;
    await until(async () => (b.tasks.get(id) ? true : undefined));
    const status = await until(async () => {
      const body = (await a.get(`/v1/tasks/${id}`)).body as { state?: string };
      return body.state === 'canceled' ? body : undefined;
    });
    expect(status).toMatchObject({ state: 'canceled', finish_reason: 'canceled' });
  }, 30_000);

  it('keeps the task running when its stream is open on the admitting replica', async () => {
    const { a, b } = await admitterAndRunner();
    const accepted = await a.post('/v1/tasks', { model: 'demo', prompt: 'read from the admitter', max_tokens: 40 });
    const id = (accepted.body as { task_id: string }).task_id;
    const stream = await openStream(`${a.url}/v1/tasks/${id}/stream`, { timeoutMs: 20_000 });
    expect(b.tasks.get(id)).toBeDefined();
    expect(stream.events.at(-1)).toMatchObject({ event: 'end', data: { finish_reason: 'length' } });
  }, 30_000);
});
