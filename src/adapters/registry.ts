// The one place that switches on engine kind (STYLE: adding an engine touches its folder and
// one line here; the Record makes a missing line a type error). Everything else sees
// WorkerAdapter and its capability flags. Factories throw on invalid replica `options`.

import type { PoolConfig, ReplicaConfig } from '../config/schema.ts';
import type { AdapterInit, EngineCatalog, EngineKind, WorkerAdapter } from './contract.ts';
import { createAnthropicAdapter } from './anthropic/adapter.ts';
import { createGeminiAdapter } from './gemini/adapter.ts';
import { createLlamacppAdapter } from './llamacpp/adapter.ts';
import { createMockAdapter } from './mock/adapter.ts';
import { createOllamaAdapter } from './ollama/adapter.ts';
import { createOpenAiAdapter } from './openai/adapter.ts';
import { createTgiAdapter } from './tgi/adapter.ts';
import { createTritonAdapter } from './triton/adapter.ts';
import { createVllmAdapter } from './vllm/adapter.ts';

type Factory = (init: AdapterInit, replica: ReplicaConfig) => WorkerAdapter;

/**
 * Slot count assumed until the engine reports its own (or config overrides it). Hosted
 * providers report none: their concurrency is the replica's `slots`, else this.
 */
export const DEFAULT_SLOTS: Record<EngineKind, number> = { mock: 4, llamacpp: 1, vllm: 256, tgi: 128, triton: 64, openai: 8, anthropic: 8, gemini: 16, ollama: 1 };

const FACTORIES: Record<EngineKind, Factory> = {
  mock: (init, replica) => createMockAdapter({ ...init, slots: replica.slots ?? DEFAULT_SLOTS.mock, mock: replica.mock ?? {} }),
  llamacpp: (init) => createLlamacppAdapter(init),
  vllm: (init) => createVllmAdapter(init),
  tgi: (init) => createTgiAdapter(init),
  triton: (init) => createTritonAdapter(init),
  openai: (init, replica) => createOpenAiAdapter({ ...init, slots: replica.slots ?? DEFAULT_SLOTS.openai }),
  anthropic: (init, replica) => createAnthropicAdapter({ ...init, slots: replica.slots ?? DEFAULT_SLOTS.anthropic }),
  gemini: (init) => createGeminiAdapter(init),
  ollama: (init) => createOllamaAdapter(init),
};

/** What the rest of the gateway may know about an engine kind, as traits rather than names. */
export interface EngineTraits {
  /** Runs inside the gateway (no `url` needed). */
  inProcess: boolean;
}

const TRAITS: Record<EngineKind, EngineTraits> = {
  mock: { inProcess: true },
  llamacpp: { inProcess: false },
  vllm: { inProcess: false },
  tgi: { inProcess: false },
  triton: { inProcess: false },
  openai: { inProcess: false },
  anthropic: { inProcess: false },
  gemini: { inProcess: false },
  ollama: { inProcess: false },
};

export function engineTraits(kind: EngineKind): EngineTraits {
  return TRAITS[kind];
}

/**
 * Speed expectations for admission predictions before a pool has measured itself: the mock's
 * configured speed (it is known exactly), nothing for real engines (generic priors apply).
 */
export function speedPriors(pool: PoolConfig): { tokensPerS?: number; ttftMs?: number; serviceMs?: number } {
  // A configured per-stream speed beats the generic default until the pool has measured itself.
  if (pool.engine !== 'mock') return pool.tokens_per_s === undefined ? {} : { tokensPerS: pool.tokens_per_s };
  const mock = pool.replicas[0]?.mock;
  const tokensPerS = mock?.tokens_per_s ?? 200;
  const ttftMs = mock?.first_token_delay_ms ?? 20;
  return { tokensPerS, ttftMs, serviceMs: ttftMs + (256 * 1000) / tokensPerS };
}

export function createAdapter(pool: PoolConfig, replica: ReplicaConfig): WorkerAdapter {
  return FACTORIES[pool.engine](
    {
      baseUrl: replica.url ?? '',
      model: pool.engine_model ?? pool.model,
      timeouts: { connectMs: pool.timeouts.connect_ms, firstByteMs: pool.timeouts.first_byte_ms, idleMs: pool.timeouts.idle_ms },
      options: replica.options ?? {},
    },
    replica,
  );
}

/** Engine-kind checks of a pool's configuration, run when a config file is loaded or reloaded. */
export function poolProblems(pool: PoolConfig): string[] {
  if (engineTraits(pool.engine).inProcess) return [];
  return pool.replicas.filter((r) => !r.url).map((r) => `/pools/${pool.id}/replicas/${r.id}: url is required for engine ${pool.engine}`);
}

export const engineCatalog: EngineCatalog = {
  createAdapter,
  defaultSlots: (kind) => DEFAULT_SLOTS[kind],
  speedPriors,
  poolProblems,
};
