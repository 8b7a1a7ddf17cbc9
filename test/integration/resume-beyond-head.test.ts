// Issue 10 finding 10: `Last-Event-ID: N` above the current head of a running task means "ids
// greater than N", also for events that arrive later; the stream still closes once the task ends.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockPool, startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { openStream } from '../support/sse-client.ts';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway(testConfig({ server: { heartbeat_ms: 100 }, pools: [mockPool({}, { tokens_per_s: 20 })] }));
});
afterAll(async () => gw.close());

describe('resuming beyond the head', () => {
  it('sends only ids greater than Last-Event-ID as they arrive, and closes when the task ends below it', async () => {
    const { task_id } = (await gw.post('/v1/tasks', { model: 'demo', prompt: 'slow', max_tokens: 6 })).body as { task_id: string };
    // 6 tokens + started + metrics + end = 9 events; resume after 7 while only a few exist.
    const [beyond, past] = await Promise.all([
      openStream(`${gw.url}/v1/tasks/${task_id}/stream`, { headers: { 'last-event-id': '7' } }),
      openStream(`${gw.url}/v1/tasks/${task_id}/stream`, { headers: { 'last-event-id': '50' } }),
    ]);
    expect(beyond.events.map((e) => e.id)).toEqual([8, 9]);
    expect(beyond.events.at(-1)?.event).toBe('end');
    expect(past.events).toEqual([]);
    expect(past.ended).toBe(true);
  });
});
