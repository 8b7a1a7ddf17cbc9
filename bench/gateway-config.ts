// Gateway configurations for bench runs: pools of engine `llamacpp` pointing at a simulator
// process, audit off and quiet logs unless a scenario says otherwise; every other setting is
// the shipped default (metrics on), so the figures describe what an operator gets.

export interface PoolSpec {
  id: string;
  model: string;
  /** Simulator base URL. */
  engineUrl: string;
  /** Slot override: the gateway leases at most this many concurrent streams on the replica. */
  slots: number;
  maxQueued: number;
  policy?: 'reject' | 'drop-lru';
  /** The pool's configured per-stream speed prior (`tokens_per_s`). */
  tokensPerS?: number;
}

export function poolConfig(spec: PoolSpec): Record<string, unknown> {
  return {
    id: spec.id,
    engine: 'llamacpp',
    model: spec.model,
    replicas: [{ id: `${spec.id}-0`, url: spec.engineUrl, slots: spec.slots }],
    queue: { max_queued: spec.maxQueued, policy: spec.policy ?? 'reject' },
    ...(spec.tokensPerS !== undefined ? { tokens_per_s: spec.tokensPerS } : {}),
  };
}

export interface GatewayOptions {
  audit?: Record<string, unknown>;
  telemetry?: Record<string, unknown>;
}

export function gatewayConfig(pools: Array<Record<string, unknown>>, opts: GatewayOptions = {}): Record<string, unknown> {
  return {
    pools,
    audit: opts.audit ?? { backend: 'off' },
    telemetry: { log_level: 'warn', ...opts.telemetry },
  };
}
