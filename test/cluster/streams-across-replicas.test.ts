// Issue 15: a task is one task whichever replica is asked. A stream read on one replica resumes
// on another with Last-Event-ID, every token once; a cancel sent to a replica that does not run
// the task stops it on the one that does, with no token after the ack and the engine aborted.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisBackendRefusal, startCluster, type Cluster, type ClusterGateway } from '../support/cluster.ts';
import { terminal } from '../support/sse-client.ts';
import { follow, getJson, postJson, sequenceProblem, taskBody } from './cluster-load.ts';

const refusal = await redisBackendRefusal();
const skipped = refusal === undefined ? '' : ` — skipped, the gateway refuses the backend: ${refusal}`;

describe.skipIf(refusal !== undefined)(`streams and cancel across redis-backend replicas${skipped}`, () => {
  let c: Cluster;
  beforeAll(async () => {
    const started = await startCluster({ backend: 'redis', engines: [{ slots: 2, tokensPerS: 40 }, { slots: 2, tokensPerS: 40 }] });
    if (!started.ok) throw new Error(started.refusal);
    c = started.cluster;
  }, 90_000);
  afterAll(() => c?.close());

  const other = (than: string): ClusterGateway => c.gateways.find((g) => g.replicaId !== than) as ClusterGateway;
  const submit = async (to: ClusterGateway, prompt: string, maxTokens: number) => {
    const res = await postJson(to, '/v1/tasks', taskBody(prompt, maxTokens));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return (res.body as { task_id: string }).task_id;
  };

  it('a stream started on one replica resumes on another with Last-Event-ID, every token exactly once', { timeout: 30_000 }, async () => {
    const [a, b, third] = c.gateways as [ClusterGateway, ClusterGateway, ClusterGateway];
    const id = await submit(a, 'resume across replicas', 40);
    const first = follow(a, id);
    await expect.poll(() => first.events.filter((e) => e.event === 'token').length, { timeout: 10_000 }).toBeGreaterThanOrEqual(5);
    first.stop();
    await first.done;
    const lastSeen = first.events.at(-1)?.id as number;
    const rest = follow(b, id, lastSeen);
    expect(await rest.done, 'the resumed stream ends with its terminal event').toBe(true);
    const whole = [...first.events, ...rest.events];
    expect(sequenceProblem(whole)).toBeUndefined();
    expect(rest.events[0]?.id).toBe(lastSeen + 1);
    const tokens = whole.filter((e) => e.event === 'token');
    expect(tokens.map((t) => t.data.i)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(terminal(whole)).toEqual([expect.objectContaining({ event: 'end', data: expect.objectContaining({ tokens_out: 40, finish_reason: 'length' }) })]);
    // A third replica replays the same log from the start: the pieces read were the log itself.
    const replay = follow(third, id);
    expect(await replay.done).toBe(true);
    expect(replay.events).toEqual(whole);
  });

  it('a cancel sent to another replica stops the task where it runs: no token after the ack, engine aborted', { timeout: 30_000 }, async () => {
    const a = c.gateways[0] as ClusterGateway;
    const prompt = 'cancel across replicas';
    const id = await submit(a, prompt, 400);
    const reader = follow(a, id);
    await expect.poll(() => reader.events.filter((e) => e.event === 'token').length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    // The replica whose engine request carries the task runs it; the cancel goes to another one.
    const generation = c.engines.flatMap((e) => e.meter.generations).find((g) => g.prompt === prompt);
    expect(generation, 'the engine saw the task').toBeDefined();
    const runner = generation?.gateway as string;
    const b = other(runner);
    const ack = await postJson(b, `/v1/tasks/${id}/cancel`);
    expect(ack.status, JSON.stringify(ack.body)).toBe(200);
    expect(ack.body).toEqual({ task_id: id, state: 'canceled', canceled: true });
    const atAck = (await getJson(b, `/v1/tasks/${id}`)).body as { state: string; tokens_out: number; last_event_id: number };
    expect(atAck.state).toBe('canceled');
    expect(await reader.done).toBe(true);
    // Everything the reader got was in the log when the ack was answered.
    expect(reader.events.at(-1)?.id).toBe(atAck.last_event_id);
    expect(reader.events.at(-1)).toMatchObject({ event: 'end', data: { finish_reason: 'canceled' } });
    expect(terminal(reader.events)).toHaveLength(1);
    expect(reader.events.filter((e) => e.event === 'token')).toHaveLength(atAck.tokens_out);
    // The engine call was aborted by the replica that ran it (the fake itself saw the hang-up),
    // and nothing is appended later.
    await expect.poll(() => generation?.aborted, { timeout: 5_000 }).toBe(true);
    const seenByFake = () => c.engines.flatMap((e) => e.fake.seen).find((r) => (r.body as { prompt?: unknown } | undefined)?.prompt === prompt);
    await expect.poll(() => seenByFake()?.aborted, { timeout: 5_000 }).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    for (const g of c.gateways) {
      const later = (await getJson(g, `/v1/tasks/${id}`)).body as { last_event_id: number; tokens_out: number };
      expect(later, g.replicaId).toMatchObject({ last_event_id: atAck.last_event_id, tokens_out: atAck.tokens_out });
    }
    const again = await postJson(other(b.replicaId), `/v1/tasks/${id}/cancel`);
    expect(again.body).toEqual({ task_id: id, state: 'canceled', canceled: true });
  });
});
