// Gateway configurations for bench runs: pools of engine `llamacpp` pointing at a simulator
// process and quiet logs; everything else is the shipped default unless a scenario names a
// variant — audit on the embedded PGlite (its own temp data dir per gateway process, set by
// services.startGateway) and metrics on — so the headline figures are what an operator gets.

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

/** The shipped defaults: audit on the embedded PGlite (src/config/schema.ts), metrics on. */
export const SHIPPED_DEFAULTS: GatewayOptions = {};
/** The variants scenarios compare with the defaults, named where they are used. */
export const AUDIT_OFF: GatewayOptions = { audit: { backend: 'off' } };
export const METRICS_OFF: GatewayOptions = { telemetry: { metrics: false } };
export function auditOnPostgres(databaseUrl: string): GatewayOptions {
  return { audit: { backend: 'postgres', database_url: databaseUrl } };
}

/**
 * The config file of one gateway. The shipped audit default is written out (`backend: pglite`)
 * so the file says what runs; its data dir is left to startGateway, which gives every process
 * its own (the shipped `.data/audit` would be shared by every gateway of a run).
 */
export function gatewayConfig(pools: Array<Record<string, unknown>>, opts: GatewayOptions = SHIPPED_DEFAULTS): Record<string, unknown> {
  return {
    pools,
    audit: opts.audit ?? { backend: 'pglite' },
    // Not the shipped `info`: three log lines per task would be read by the runner, which is also the load generator.
    telemetry: { log_level: 'warn', ...opts.telemetry },
  };
}

/** The config with a PGlite audit store given `dir` as its data dir, unless it names one; other backends untouched. */
export function withAuditDir(config: Record<string, unknown>, dir: string): Record<string, unknown> {
  const audit = (config.audit ?? {}) as Record<string, unknown>;
  const backend = audit.backend ?? 'pglite';
  if (backend !== 'pglite' || audit.data_dir !== undefined) return config;
  return { ...config, audit: { ...audit, backend, data_dir: dir } };
}
