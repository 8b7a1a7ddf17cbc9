// Gateway configurations for bench runs: pools of engine `llamacpp` pointing at the simulator
// (or, while the llama.cpp adapter is not in the registry, the in-process `mock` engine as a
// clearly labelled stand-in), audit off and quiet logs unless a scenario says otherwise.

import { isEngineAvailable } from '../src/adapters/registry.ts';

export type GatewayEngine = 'llamacpp' | 'mock';

export interface PoolSpec {
  id: string;
  model: string;
  /** Simulator URL (ignored by the mock stand-in). */
  engineUrl: string;
  slots: number;
  maxQueued: number;
  policy?: 'reject' | 'drop-lru';
  /** Decode speed of the mock stand-in; the simulator's own pace is set on its command line. */
  standInTokensPerS?: number;
}

/** The engine the gateway path uses in this build. */
export function gatewayEngine(): GatewayEngine {
  return isEngineAvailable('llamacpp') ? 'llamacpp' : 'mock';
}

export function poolConfig(engine: GatewayEngine, spec: PoolSpec): Record<string, unknown> {
  const replica: Record<string, unknown> = { id: `${spec.id}-0`, slots: spec.slots };
  if (engine === 'llamacpp') replica.url = spec.engineUrl;
  // Stand-in: as fast as the mock goes, no first-token delay, like the unpaced simulator.
  else replica.mock = { tokens_per_s: spec.standInTokensPerS ?? 1_000_000, first_token_delay_ms: 0 };
  return {
    id: spec.id,
    engine,
    model: spec.model,
    replicas: [replica],
    queue: { max_queued: spec.maxQueued, policy: spec.policy ?? 'reject' },
  };
}

export interface GatewayOptions {
  audit?: Record<string, unknown>;
  telemetry?: Record<string, unknown>;
}

/** Shipped defaults except: audit off, log level warn; scenarios override audit/telemetry. */
export function gatewayConfig(pools: Array<Record<string, unknown>>, opts: GatewayOptions = {}): Record<string, unknown> {
  return {
    pools,
    audit: opts.audit ?? { backend: 'off' },
    telemetry: { log_level: 'warn', ...opts.telemetry },
  };
}
