// Two redis-backend gateways in this process on a fresh key prefix: gw-a with engine replica va,
// gw-b with vb (a vLLM fake of 2 slots each). One engine replica is parked (capacity 0 in Redis),
// so every task runs on the other gateway: the shape of the suites that test a task admitted or
// read on one replica and run on the other.

import type { Config } from '../../src/config/schema.ts';
import type { ComposeOptions } from '../../src/main.ts';
import { stateKeys, type StateKeys } from '../../src/state/redis/keys.ts';
import { RedisPoolQueue } from '../../src/state/redis/pool-queue.ts';
import { startVllmFake, type VllmFake } from '../fakes/vllm/fake.ts';
import { startGateway, testConfig, type TestGateway } from './gateway.ts';
import { redisForTest, type RedisTestContext } from './redis.ts';
import { until } from './until.ts';

export interface GatewayPair {
  a: TestGateway;
  b: TestGateway;
  /** va's fake (gw-a's engine), then vb's. */
  fakes: [VllmFake, VllmFake];
  redis: RedisTestContext;
  keys: StateKeys;
}

export interface GatewayPairOptions {
  /** The engine replica whose capacity is set to 0 once both gateways published theirs. */
  parked: 'va' | 'vb';
  server?: Partial<Config['server']>;
  compose?: ComposeOptions;
  /** More compose options for gw-a alone (e.g. its audit recorder). */
  composeA?: ComposeOptions;
  /** The fakes' decode speed (default 20 tokens/s). */
  tokensPerS?: number;
  /** Closers, run by the caller's afterEach (last first). */
  cleanups: Array<() => Promise<void>>;
}

export async function gatewayPair(opts: GatewayPairOptions): Promise<GatewayPair> {
  const { cleanups } = opts;
  const redis = await redisForTest();
  cleanups.push(() => redis.cleanup());
  const fakes: VllmFake[] = [];
  for (let i = 0; i < 2; i++) {
    const fake = await startVllmFake({ tokensPerS: opts.tokensPerS ?? 20, firstTokenDelayMs: 2 });
    cleanups.push(() => fake.close());
    fakes.push(fake);
  }
  const config = (replicaId: string, engineReplica: string, fake: VllmFake) => testConfig({
    pools: [{ id: 'demo', engine: 'vllm', model: 'demo', engine_model: 'fake-model', replicas: [{ id: engineReplica, url: fake.url, slots: 2 }] }],
    ...(opts.server ? { server: opts.server } : {}),
    state: { backend: 'redis', url: redis.url, key_prefix: redis.prefix, replica_id: replicaId, lease_ms: 5_000 },
  });
  const [va, vb] = fakes as [VllmFake, VllmFake];
  const a = await startGateway(config('gw-a', 'va', va), { ...opts.compose, ...opts.composeA });
  cleanups.push(() => a.close());
  const b = await startGateway(config('gw-b', 'vb', vb), opts.compose);
  cleanups.push(() => b.close());
  const keys = stateKeys(redis.prefix);
  const capacity = keys.pool('demo').capacity;
  await until(async () => ((await redis.client.hget(capacity, 'va')) === '2' && (await redis.client.hget(capacity, 'vb')) === '2' ? true : undefined));
  await new RedisPoolQueue({ redis: redis.client, keys, poolId: 'demo' }).setCapacity(opts.parked, 0);
  return { a, b, fakes: [va, vb], redis, keys };
}
