// Loads the configuration: embedded defaults (one `demo` pool on the built-in mock engine),
// or a YAML/JSON file from --config / ORCHQUEUE_CONFIG, then environment overrides
// (HOST, PORT, DATABASE_URL, REDIS_URL, LOG_LEVEL) and the --insecure flag (server.allow_open), validated
// against the schema with defaults filled in. A bad config is a typed list of problems, never a
// half-applied one. Checks that only an engine kind can judge come in as `ConfigChecks` from the
// composition root: config is a leaf.

import { readFile } from 'node:fs/promises';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { ConfigSchema, type Config, type PoolConfig } from './schema.ts';

export const DEFAULT_CONFIG_INPUT = {
  pools: [
    {
      id: 'demo',
      engine: 'mock',
      model: 'demo',
      replicas: [{ id: 'mock-0', slots: 4 }],
    },
  ],
};

/** Checks beyond the schema, supplied by whoever knows the engines (the adapter registry). */
export interface ConfigChecks {
  poolProblems?(pool: PoolConfig): string[];
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

const ajv = new Ajv({ useDefaults: true, allErrors: true, strict: false, coerceTypes: false });
addFormats.default(ajv);
const validate = ajv.compile<Config>(ConfigSchema);

/** Validates a parsed config object, filling defaults, and checks cross-field rules. */
export function validateConfig(input: unknown, checks: ConfigChecks = {}): ConfigResult {
  const candidate = structuredClone(input);
  if (!validate(candidate)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
    return { ok: false, problems };
  }
  const problems: string[] = [];
  if (candidate.server.headers_timeout_ms > candidate.server.request_timeout_ms) {
    problems.push('/server: headers_timeout_ms must not exceed request_timeout_ms (the headers are part of the request)');
  }
  const { tenant_labels: listed, max_tenant_labels: maxLabels } = candidate.telemetry;
  if (listed.length > maxLabels) {
    problems.push(`/telemetry/tenant_labels: lists ${listed.length} tenants but max_tenant_labels is ${maxLabels} (the label budget)`);
  }
  const poolIds = new Set<string>();
  const models = new Map<string, string>();
  for (const pool of candidate.pools) {
    if (poolIds.has(pool.id)) problems.push(`/pools: duplicate pool id ${pool.id}`);
    poolIds.add(pool.id);
    const replicaIds = new Set<string>();
    for (const replica of pool.replicas) {
      if (replicaIds.has(replica.id)) problems.push(`/pools/${pool.id}: duplicate replica id ${replica.id}`);
      replicaIds.add(replica.id);
    }
    problems.push(...(checks.poolProblems?.(pool) ?? []));
    for (const name of [pool.model, ...pool.aliases]) {
      const key = `${pool.engine}:${name}`;
      if (models.has(key)) problems.push(`/pools/${pool.id}: model ${name} on engine ${pool.engine} is already served by pool ${models.get(key)}`);
      models.set(key, pool.id);
    }
  }
  if (candidate.state.backend === 'redis' && candidate.state.url === undefined) {
    problems.push('/state/url: required when backend is redis (or set REDIS_URL)');
  }
  problems.push(...duplicates(candidate.pricing.map((row) => row.model), '/pricing', 'a price for model'));
  problems.push(...duplicates(candidate.catalog.map((entry) => entry.id), '/catalog', 'an entry for model'));
  problems.push(...fallbackProblems(candidate.pools));
  return problems.length ? { ok: false, problems } : { ok: true, config: candidate };
}

/** One problem per repeated key: two prices (or catalog entries) for one model would be a guess. */
function duplicates(keys: readonly string[], path: string, what: string): string[] {
  const seen = new Set<string>();
  const problems: string[] = [];
  keys.forEach((key, i) => {
    if (seen.has(key)) problems.push(`${path}/${i}: ${what} ${key} is already given`);
    seen.add(key);
  });
  return problems;
}

/** Fallbacks name other existing pools, each once, and never lead back to where they started. */
function fallbackProblems(pools: readonly PoolConfig[]): string[] {
  const byId = new Map(pools.map((p) => [p.id, p]));
  const problems: string[] = [];
  for (const pool of pools) {
    pool.fallbacks.forEach((id, i) => {
      const field = `/pools/${pool.id}/fallbacks/${i}`;
      if (id === pool.id) problems.push(`${field}: pool ${id} cannot be its own fallback`);
      else if (!byId.has(id)) problems.push(`${field}: unknown pool ${id}`);
      else if (pool.fallbacks.indexOf(id) !== i) problems.push(`${field}: pool ${id} is named twice`);
    });
  }
  if (problems.length > 0) return problems;
  // Depth-first search over fallback edges: a grey pool met again closes a cycle.
  const colour = new Map<string, 'grey' | 'black'>();
  const visit = (id: string, path: string[]): string | undefined => {
    if (colour.get(id) === 'black') return undefined;
    if (colour.get(id) === 'grey') return [...path.slice(path.indexOf(id)), id].join(' → ');
    colour.set(id, 'grey');
    for (const next of byId.get(id)?.fallbacks ?? []) {
      const cycle = visit(next, [...path, id]);
      if (cycle !== undefined) return cycle;
    }
    colour.set(id, 'black');
    return undefined;
  };
  for (const pool of pools) {
    const cycle = visit(pool.id, []);
    if (cycle !== undefined) return [`/pools/${pool.id}/fallbacks: fallbacks form a cycle (${cycle})`];
  }
  return [];
}

export function applyEnv(input: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out = structuredClone(input);
  const section = (key: string) => ((out[key] ??= {}) as Record<string, unknown>);
  if (env.HOST) section('server').host = env.HOST;
  if (env.PORT) section('server').port = /^\d+$/.test(env.PORT) ? Number(env.PORT) : env.PORT;
  if (env.DATABASE_URL) {
    const audit = section('audit');
    audit.database_url = env.DATABASE_URL;
    audit.backend ??= 'postgres';
  }
  // Unlike DATABASE_URL, REDIS_URL never picks the backend: test tooling exports it, and
  // turning several processes into one cluster is a decision the config file states.
  if (env.REDIS_URL) section('state').url = env.REDIS_URL;
  if (env.ORCHQUEUE_REPLICA_ID) section('state').replica_id = env.ORCHQUEUE_REPLICA_ID;
  if (env.LOG_LEVEL) section('telemetry').log_level = env.LOG_LEVEL;
  return out;
}

export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  const text = await readFile(path, 'utf8');
  const parsed: unknown = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${path}: the configuration must be an object`);
  return parsed as Record<string, unknown>;
}

/** The config path from `--config <file>` / `--config=<file>` or ORCHQUEUE_CONFIG. */
export function configPath(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--config') return argv[i + 1];
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
  }
  return env.ORCHQUEUE_CONFIG || undefined;
}

export async function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv, checks: ConfigChecks = {}): Promise<ConfigResult> {
  const path = configPath(argv, env);
  let input: Record<string, unknown>;
  try {
    input = path ? await readConfigFile(path) : structuredClone(DEFAULT_CONFIG_INPUT);
  } catch (err) {
    return { ok: false, problems: [err instanceof Error ? err.message : String(err)] };
  }
  return validateConfig(applyArgs(applyEnv(input, env), argv), checks);
}

/** `--insecure` is `server.allow_open: true` (an open control plane on a public address). */
export function applyArgs(input: Record<string, unknown>, argv: readonly string[]): Record<string, unknown> {
  if (!argv.includes('--insecure')) return input;
  const out = structuredClone(input);
  ((out.server ??= {}) as Record<string, unknown>).allow_open = true;
  return out;
}
