// Configuration reload without a restart (ORCH-0509): re-read the file the gateway started
// with, validate it and dry-run every replica's adapter, then apply it. A bad file changes
// nothing and is refused with every problem listed. Pools swap through the pool manager; a few
// server settings apply live; anything else that differs waits for a restart and is reported.
// It lives beside the pool manager it drives; config/ stays a leaf that only loads and checks.

import type { Logger } from 'pino';
import type { EngineCatalog } from '../adapters/contract.ts';
import { fail, ok, orchError, type Result } from '../core/errors.ts';
import type { LifecycleObserver } from '../core/observer.ts';
import type { QueueEntry } from '../core/queue/fair-queue.ts';
import type { ConfigResult } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { PoolChanges, PoolManager } from './pool-manager.ts';

/** Server settings read at use, so a reload changes them for the next task. */
const LIVE_SERVER_KEYS = [
  'retention_ms',
  'max_finished_tasks',
  'retention_max_bytes',
  'unclaimed_stream_timeout_ms',
  'orphan_grace_ms',
  'max_prompt_chars',
  'max_tokens_limit',
] as const;

export interface ConfigReloadDeps<T extends QueueEntry> {
  /** Reads and validates the configuration source the gateway started with. */
  load: () => Promise<ConfigResult>;
  /** The running configuration; updated in place so every holder sees the new values. */
  config: Config;
  pools: PoolManager<T>;
  /** Builds the dry-run adapters (the same catalog the pool manager uses). */
  engines: EngineCatalog;
  logger: Logger;
  observer: LifecycleObserver;
}

export interface ConfigReloaded {
  reloaded: true;
  pools: string[];
  changes: PoolChanges;
  /** Settings that differ from the running ones but only take effect after a restart. */
  restartNeeded: string[];
}

export class ConfigReloader<T extends QueueEntry> {
  private running = false;
  private readonly deps: ConfigReloadDeps<T>;

  constructor(deps: ConfigReloadDeps<T>) {
    this.deps = deps;
  }

  async reload(actor: string, correlationId?: string): Promise<Result<ConfigReloaded>> {
    if (this.running) return fail(orchError('CONFLICT', 'a configuration reload is already in progress'));
    this.running = true;
    try {
      const { observer, logger } = this.deps;
      const outcome = await this.attempt().catch((err: unknown) => {
        // A bug, not a bad file: SIGHUP has no caller to throw to, so it becomes a refusal.
        logger.error({ err }, 'configuration reload failed');
        return fail<ConfigReloaded>(orchError('INTERNAL', 'the configuration reload failed; see the gateway log'));
      });
      const base = { action: 'config_reload' as const, actor, target: 'config', ...(correlationId !== undefined ? { correlation_id: correlationId } : {}) };
      if (!outcome.ok) {
        logger.warn({ actor, problems: outcome.error.message }, 'configuration reload refused; the running configuration stays');
        observer.control?.({ ...base, outcome: 'refused', detail: { code: outcome.error.code, message: outcome.error.message } });
        return outcome;
      }
      const { changes, restartNeeded } = outcome.value;
      logger.info({ actor, ...changes, restart_needed: restartNeeded }, 'configuration reloaded');
      observer.control?.({ ...base, outcome: 'done', detail: { ...changes, restart_needed: restartNeeded } });
      return outcome;
    } finally {
      this.running = false;
    }
  }

  private async attempt(): Promise<Result<ConfigReloaded>> {
    const loaded = await this.deps.load();
    if (!loaded.ok) return fail(invalidConfig(loaded.problems));
    const next = loaded.config;
    const adapterProblems = await dryRunAdapters(next, this.deps.engines);
    if (adapterProblems.length > 0) return fail(invalidConfig(adapterProblems));
    const changes = await this.deps.pools.apply(next.pools);
    const restartNeeded = applyLiveSettings(this.deps.config, next);
    return ok({ reloaded: true, pools: next.pools.map((p) => p.id), changes, restartNeeded });
  }
}

/** Builds (and closes) every replica's adapter: unknown engines and bad options fail here, not mid-swap. */
async function dryRunAdapters(config: Config, engines: EngineCatalog): Promise<string[]> {
  const problems: string[] = [];
  for (const pool of config.pools) {
    for (const replica of pool.replicas) {
      try {
        await engines.createAdapter(pool, replica).close();
      } catch (err) {
        problems.push(`/pools/${pool.id}/replicas/${replica.id}/options ${err instanceof Error ? err.message : 'is invalid'}`);
      }
    }
  }
  return problems;
}

/** Pools are swapped by the pool manager; here the live server keys are copied, the rest compared. */
export function applyLiveSettings(running: Config, next: Config): string[] {
  const restartNeeded: string[] = [];
  for (const section of ['server', 'auth', 'sessions', 'audit', 'telemetry'] as const) {
    const before = running[section] as Record<string, unknown>;
    const after = next[section] as Record<string, unknown>;
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      if (JSON.stringify(before[key]) === JSON.stringify(after[key])) continue;
      if (section === 'server' && (LIVE_SERVER_KEYS as readonly string[]).includes(key)) before[key] = after[key];
      else restartNeeded.push(`${section}.${key}`);
    }
  }
  running.pools = next.pools;
  // Prices and the catalog are read per task and per listing: they apply from the next one.
  running.pricing = next.pricing;
  running.catalog = next.catalog;
  running.model_discovery = next.model_discovery;
  return restartNeeded;
}

/** INVALID_PARAMS listing every problem; `field` is the dotted path of the first one. */
export function invalidConfig(problems: readonly string[]): ReturnType<typeof orchError> {
  const first = problems[0] ?? '';
  const path = first.startsWith('/') ? (first.split(' ')[0] ?? '').split('/').filter(Boolean).join('.').replace(/:$/, '') : '';
  return orchError('INVALID_PARAMS', `invalid configuration, the running one stays in force: ${problems.join('; ')}`, path ? { field: path } : {});
}
