// Issue 15: the cluster fails closed when its Redis is gone — new work is refused with a typed
// 503 and a retry hint, nothing is admitted that cannot be tracked — and recovers when Redis is
// back, without restarting a gateway. The Redis here is a private server on a port of its own.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisBackendRefusal, startCluster, type Cluster } from '../support/cluster.ts';
import { startRedisServer, type RedisServer } from '../support/redis.ts';
import { openStream, terminal } from '../support/sse-client.ts';
import { postJson, taskBody } from './cluster-load.ts';

const refusal = await redisBackendRefusal();
const skipped = refusal === undefined ? '' : ` — skipped, the gateway refuses the backend: ${refusal}`;

describe.skipIf(refusal !== undefined)(`redis outage under a redis-backend cluster${skipped}`, () => {
  let redis: RedisServer;
  let c: Cluster;
  beforeAll(async () => {
    redis = await startRedisServer();
    const started = await startCluster({ backend: 'redis', redisUrl: redis.url, leaseMs: 2_000, engines: [{ slots: 2 }, { slots: 2 }] });
    if (!started.ok) throw new Error(started.refusal);
    c = started.cluster;
  }, 90_000);
  afterAll(async () => {
    await c?.close();
    if (redis?.running) await redis.kill();
  });

  const completes = async (url: string, prompt: string) => {
    const stream = await openStream(`${url}/v1/tasks`, { method: 'POST', body: taskBody(prompt, 4), timeoutMs: 15_000 });
    return stream.status === 200 && terminal(stream.events).at(0)?.event === 'end';
  };

  it('Redis stopped: every replica answers new submits 503 STATE_UNAVAILABLE with Retry-After; after a restart they admit again', { timeout: 45_000 }, async () => {
    for (const g of c.gateways) expect(await completes(g.url, `before ${g.replicaId}`), g.replicaId).toBe(true);

    await redis.stop();
    for (const g of c.gateways) {
      const res = await postJson(g, '/v1/tasks', taskBody(`during ${g.replicaId}`, 4));
      expect(res.status, `${g.replicaId}: ${JSON.stringify(res.body)}`).toBe(503);
      expect(res.body, g.replicaId).toMatchObject({ error: { code: 'STATE_UNAVAILABLE', retriable: true } });
      expect(Number(res.headers['retry-after']), g.replicaId).toBeGreaterThanOrEqual(1);
    }

    // The same processes, a Redis that comes back empty: each replica rejoins and admits again.
    await redis.restart();
    for (const g of c.gateways) {
      await expect.poll(() => completes(g.url, `after ${g.replicaId}`), { timeout: 20_000, interval: 500 }).toBe(true);
    }
    expect(c.gateways.every((g) => g.process.exitCode === null && g.process.signalCode === null)).toBe(true);
  });
});
