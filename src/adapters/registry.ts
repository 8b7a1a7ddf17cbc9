// The one place that switches on engine kind (STYLE: adding an engine touches its folder and
// one line here). Everything else sees WorkerAdapter and its capability flags.

import type { PoolConfig, ReplicaConfig } from '../config/schema.ts';
import type { AdapterInit, EngineKind, WorkerAdapter } from './contract.ts';
import { createMockAdapter } from './mock/adapter.ts';

type Factory = (init: AdapterInit, replica: ReplicaConfig) => WorkerAdapter;

/** Slot count assumed until the engine reports its own (or config overrides it). */
export const DEFAULT_SLOTS: Record<EngineKind, number> = { mock: 4, llamacpp: 1, vllm: 256, tgi: 128, triton: 64 };

const FACTORIES: Partial<Record<EngineKind, Factory>> = {
  mock: (init, replica) => createMockAdapter({ ...init, slots: replica.slots ?? DEFAULT_SLOTS.mock, mock: replica.mock ?? {} }),
};

export function isEngineAvailable(kind: EngineKind): boolean {
  return FACTORIES[kind] !== undefined;
}

export function createAdapter(pool: PoolConfig, replica: ReplicaConfig): WorkerAdapter {
  const factory = FACTORIES[pool.engine];
  if (!factory) throw new Error(`engine ${pool.engine} has no adapter in this build`);
  return factory(
    {
      baseUrl: replica.url ?? '',
      model: pool.engine_model ?? pool.model,
      timeouts: { connectMs: pool.timeouts.connect_ms, firstByteMs: pool.timeouts.first_byte_ms, idleMs: pool.timeouts.idle_ms },
      options: replica.options ?? {},
    },
    replica,
  );
}
