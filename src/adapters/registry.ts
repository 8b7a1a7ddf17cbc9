// The one place that switches on engine kind (STYLE: adding an engine touches its folder and
// one line here; the Record makes a missing line a type error). Everything else sees
// WorkerAdapter and its capability flags. Factories throw on invalid replica `options`.

import type { PoolConfig, ReplicaConfig } from '../config/schema.ts';
import type { AdapterInit, EngineKind, WorkerAdapter } from './contract.ts';
import { createLlamacppAdapter } from './llamacpp/adapter.ts';
import { createMockAdapter } from './mock/adapter.ts';
import { createTgiAdapter } from './tgi/adapter.ts';
import { createTritonAdapter } from './triton/adapter.ts';
import { createVllmAdapter } from './vllm/adapter.ts';

type Factory = (init: AdapterInit, replica: ReplicaConfig) => WorkerAdapter;

/** Slot count assumed until the engine reports its own (or config overrides it). */
export const DEFAULT_SLOTS: Record<EngineKind, number> = { mock: 4, llamacpp: 1, vllm: 256, tgi: 128, triton: 64 };

const FACTORIES: Record<EngineKind, Factory> = {
  mock: (init, replica) => createMockAdapter({ ...init, slots: replica.slots ?? DEFAULT_SLOTS.mock, mock: replica.mock ?? {} }),
  llamacpp: (init) => createLlamacppAdapter(init),
  vllm: (init) => createVllmAdapter(init),
  tgi: (init) => createTgiAdapter(init),
  triton: (init) => createTritonAdapter(init),
};

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
