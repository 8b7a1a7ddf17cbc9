// Engine kits for the gateway journeys: how to start each engine's protocol-faithful fake and
// how a pool config must point at it. Every fake is a real HTTP server on an ephemeral
// loopback port; the journeys only see this small common surface.

import type { EngineKind } from '../../src/adapters/contract.ts';
import { startLlamacppFake } from '../fakes/llamacpp/fake.ts';
import { startTgiFake } from '../fakes/tgi/fake.ts';
import { startTritonFake } from '../fakes/triton/fake.ts';
import { startVllmFake } from '../fakes/vllm/fake.ts';
import type { FakeMode } from '../fakes/http/fake-generation.ts';
import type { SeenRequest } from '../fakes/http/fake-server.ts';

export interface FakeEngine {
  readonly url: string;
  readonly seen: SeenRequest[];
  setMode(mode: FakeMode): Promise<void>;
  /** The engine process goes away (ECONNREFUSED) and comes back on the same port. */
  refuseConnections(): Promise<void>;
  acceptConnections(): Promise<void>;
  close(): Promise<void>;
}

export interface FakeStart {
  version?: string;
  tokensPerS?: number;
  firstTokenDelayMs?: number;
  mode?: FakeMode;
}

export interface EngineKit {
  engine: Exclude<EngineKind, 'mock'>;
  /** The path of a generation request on this engine's wire. */
  generatePath: string;
  start(opts?: FakeStart): Promise<FakeEngine>;
  /** Pool settings the engine needs beyond its replicas (engine-side model name). */
  pool: Record<string, unknown>;
  /** Replica `options` (facts the engine does not report, fast overload retry hints). */
  options: Record<string, unknown>;
}

/** Overload backoff long enough that no test outlives it by accident; probes tried once. */
const FAST_OVERLOAD = { overload_retry_after_ms: 5_000, retry_attempts: 1 };

export const ENGINE_KITS: readonly EngineKit[] = [
  {
    engine: 'llamacpp',
    generatePath: '/completion',
    start: (o = {}) =>
      startLlamacppFake({
        slots: 2,
        ...(o.version !== undefined ? { buildInfo: o.version } : {}),
        ...(o.tokensPerS !== undefined ? { tokensPerS: o.tokensPerS } : {}),
        ...(o.firstTokenDelayMs !== undefined ? { firstTokenDelayMs: o.firstTokenDelayMs } : {}),
        ...(o.mode !== undefined ? { mode: o.mode } : {}),
      }),
    pool: {},
    options: FAST_OVERLOAD,
  },
  {
    engine: 'vllm',
    generatePath: '/v1/completions',
    start: (o = {}) =>
      startVllmFake({
        ...(o.version !== undefined ? { version: o.version } : {}),
        ...(o.tokensPerS !== undefined ? { tokensPerS: o.tokensPerS } : {}),
        ...(o.firstTokenDelayMs !== undefined ? { firstTokenDelayMs: o.firstTokenDelayMs } : {}),
        ...(o.mode !== undefined ? { mode: o.mode } : {}),
      }),
    pool: { engine_model: 'fake-model' },
    options: { ...FAST_OVERLOAD, max_num_seqs: 4 },
  },
  {
    engine: 'tgi',
    generatePath: '/generate_stream',
    start: async (o = {}) => {
      const fake = await startTgiFake({
        ...(o.version !== undefined ? { info: { version: o.version } } : {}),
        ...(o.tokensPerS !== undefined ? { tokensPerS: o.tokensPerS } : {}),
        ...(o.firstTokenDelayMs !== undefined ? { firstTokenDelayMs: o.firstTokenDelayMs } : {}),
        ...(o.mode !== undefined ? { mode: o.mode } : {}),
      });
      return fake;
    },
    pool: {},
    options: { ...FAST_OVERLOAD, deterministic: true },
  },
  {
    engine: 'triton',
    generatePath: '/v2/models/ensemble/generate_stream',
    start: (o = {}) =>
      startTritonFake({
        ...(o.version !== undefined ? { version: o.version } : {}),
        ...(o.tokensPerS !== undefined ? { tokensPerS: o.tokensPerS } : {}),
        ...(o.firstTokenDelayMs !== undefined ? { firstTokenDelayMs: o.firstTokenDelayMs } : {}),
        ...(o.mode !== undefined ? { mode: o.mode } : {}),
      }),
    pool: { engine_model: 'ensemble' },
    options: { ...FAST_OVERLOAD, ctx_max: 4096, slots: 4, deterministic: true },
  },
];

export function kit(engine: EngineKit['engine']): EngineKit {
  const found = ENGINE_KITS.find((k) => k.engine === engine);
  if (!found) throw new Error(`no kit for ${engine}`);
  return found;
}

/** A pool of `fakes.length` replicas `r0, r1, ...` of one engine, probed often so tests move fast. */
export function enginePool(k: EngineKit, fakes: readonly FakeEngine[], over: Record<string, unknown> = {}) {
  return {
    id: 'p',
    engine: k.engine,
    model: 'm',
    ...k.pool,
    health: { interval_ms: 50, max_backoff_ms: 200, breaker_failures: 3, breaker_open_ms: 500 },
    ...over,
    replicas: fakes.map((f, i) => ({ id: `r${i}`, url: f.url, options: k.options })),
  };
}

/** Generation requests a fake received (health and props probes left out). */
export function generations(k: EngineKit, fake: FakeEngine): SeenRequest[] {
  return fake.seen.filter((s) => s.method === 'POST' && s.path.split('?')[0] === k.generatePath);
}

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
