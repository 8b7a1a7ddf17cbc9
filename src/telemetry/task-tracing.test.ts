// Per-task trace state is released whatever order the lifecycle facts arrive in: a task evicted
// (drop-lru) or shut down while its admission row was still being written ends before its
// `admitted` fact, and must leave no queue-wait span or map entry behind (issue 10, soak).

import Fastify, { type FastifyRequest } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { AdmittedFact, TerminalFact } from '../core/observer.ts';
import { createTaskTracing, type TaskTracing } from './task-tracing.ts';
import { startTracing } from './tracing.ts';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

let app: ReturnType<typeof Fastify> | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** A traced request whose handler plays the task service's facts in `order`, then answers. */
async function traceRequest(order: Array<'admitted' | 'finished'>): Promise<{ tracing: TaskTracing; heldInRequest: { requests: number; tasks: number } }> {
  const tracing = createTaskTracing(startTracing({}));
  app = Fastify();
  await app.register(tracing.plugin);
  let heldInRequest = { requests: -1, tasks: -1 };
  app.post('/v1/tasks', async (req: FastifyRequest) => {
    const facts = { task_id: 't-1', pool_id: 'p', priority: 'interactive' as const, correlation_id: String(req.id), max_tokens: 8 };
    for (const fact of order) {
      if (fact === 'admitted') tracing.admitted?.({ ...facts, queue_position: 0, predicted_start_ms: 0, policy_label: 'drop-lru' } satisfies AdmittedFact);
      else tracing.finished?.({ ...facts, state: 'evicted', tokens_out: 0, queue_wait_ms: 0, decode_time_ms: 0, e2e_ms: 1 } satisfies TerminalFact);
    }
    heldInRequest = tracing.held;
    return { ok: true };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const res = await fetch(`http://127.0.0.1:${port}/v1/tasks`, { method: 'POST', headers: { traceparent: TRACEPARENT } });
  expect(res.status).toBe(200);
  await res.text();
  return { tracing, heldInRequest };
}

describe('task tracing state', () => {
  it('holds nothing once a task admitted and then finished and its request closed', async () => {
    const { tracing, heldInRequest } = await traceRequest(['admitted', 'finished']);
    expect(heldInRequest).toEqual({ requests: 1, tasks: 0 });
    await expect.poll(() => tracing.held).toEqual({ requests: 0, tasks: 0 });
  });

  it('keeps no task entry for a task that ended before its admitted fact (evicted during its commit)', async () => {
    const { tracing, heldInRequest } = await traceRequest(['finished', 'admitted']);
    expect(heldInRequest).toEqual({ requests: 1, tasks: 0 });
    await expect.poll(() => tracing.held).toEqual({ requests: 0, tasks: 0 });
  });
});
