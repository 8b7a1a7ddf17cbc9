// The composition root: config → logger → pools → sessions → task service → audit/telemetry →
// buildServer → listen. `compose` is exported so tests start the exact same gateway on an
// ephemeral port; running this file directly starts it for real.

import { randomUUID } from 'node:crypto';
import { flushCompileCache } from 'node:module';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { adminRoutes } from './api/admin/routes.ts';
import { auditRoutes } from './api/audit/routes.ts';
import { controlRoutes } from './api/control/routes.ts';
import { auditChainOf } from './audit/audit-chain.ts';
import { createAudit, type Audit } from './audit/create-audit.ts';
import { reconcileAbandoned } from './audit/reconcile-abandoned.ts';
import { noopRecorder } from './audit/recorder.ts';
import { ownedTaskHistory } from './audit/task-history.ts';
import type { Config } from './config/schema.ts';
import { checkExposure } from './config/exposure.ts';
import { loadConfig, type ConfigResult } from './config/load.ts';
import type { EngineCatalog } from './adapters/contract.ts';
import { engineCatalog } from './adapters/registry.ts';
import type { AdmissionRecorder, LifecycleObserver } from './core/observer.ts';
import type { Result } from './core/errors.ts';
import { IdempotencyIndex } from './core/admission/idempotency.ts';
import type { IdSource, TimerClock } from './core/ports.ts';
import { MemorySessionStore } from './core/session/session-store.ts';
import type { RedisSessionStore } from './state/redis/session-store.ts';
import type { SessionStore } from './core/state-ports.ts';
import { TaskEventLog } from './core/task/event-log.ts';
import { redactCredentials } from './core/redact.ts';
import { ModelCatalog } from './orchestration/model-catalog.ts';
import { fanOut } from './orchestration/observers.ts';
import type { Task } from './orchestration/task.ts';
import { TaskService } from './orchestration/task-service.ts';
import type { ClusterTaskService } from './orchestration/cluster/cluster-task-service.ts';
import type { BroadcastCommand, ControlActions } from './orchestration/cluster/cluster-control.ts';
import type { Membership } from './orchestration/cluster/cluster-membership.ts';
import { openCluster, type OpenCluster } from './orchestration/cluster/cluster-kit.ts';
import { replicaIdOf } from './state/replica-id.ts';
import { periodBounds } from './core/tenancy/limits.ts';
import { ConfigReloader, type ConfigReloaded } from './pool/config-reload.ts';
import { PoolManager } from './pool/pool-manager.ts';
import { systemClock } from './system-clock.ts';
import { MemoryQuotaCounters } from './core/tenancy/quota-counters.ts';
import { TenantDirectory } from './tenancy/directory.ts';
import { MemoryTenantStore } from './tenancy/memory-store.ts';
import { QuotaGate } from './tenancy/quota-gate.ts';
import { SqlTenantStore } from './tenancy/sql-store.ts';
import type { TenantStore } from './tenancy/store.ts';
import { buildServer } from './server.ts';
import { createLogObserver } from './telemetry/log-observer.ts';
import { createLogger } from './telemetry/logger.ts';
import { createMetrics, type Metrics } from './telemetry/metrics.ts';
import { metricsPlugin } from './telemetry/metrics-route.ts';
import { engineScrapeIntervalMs, startEngineScraper, type EngineScraper } from './telemetry/engine-scraper.ts';
import { buildSnapshot } from './telemetry/snapshot.ts';
import { createTaskTracing } from './telemetry/task-tracing.ts';
import { startTracing } from './telemetry/tracing.ts';

export interface Gateway {
  app: FastifyInstance;
  config: Config;
  tasks: TaskService;
  pools: PoolManager<Task>;
  sessions: SessionStore;
  /** Re-reads the configuration source and applies it (POST /v1/config/reload, SIGHUP). */
  reloadConfig(actor: string, correlationId?: string): Promise<Result<ConfigReloaded>>;
  close(): Promise<void>;
}

export interface ComposeOptions {
  logger?: Logger;
  clock?: TimerClock;
  /** Replaces the audit recorder (tests); the audit routes then serve no store. */
  recorder?: AdmissionRecorder;
  /** Environment for DATABASE_URL and OTEL_* (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  observers?: LifecycleObserver[];
  /** Where a config reload reads from; default: the config given to compose (a no-op reload). */
  loadConfig?: () => Promise<ConfigResult>;
  /** Extra Fastify plugins registered after the gateway's own (tests: pact provider states). */
  plugins?: Array<(app: FastifyInstance) => Promise<void>>;
  /** Replaces the adapter registry's catalog (tests: an adapter with capabilities no engine has yet). */
  engines?: EngineCatalog;
}

export async function compose(config: Config, opts: ComposeOptions = {}): Promise<Gateway> {
  // 1. The outside world: environment, logger, clock, ids; with the redis backend, the shared
  // state first (a Redis that cannot be reached stops the start).
  const env = opts.env ?? process.env;
  const logger = opts.logger ?? createLogger({ level: config.telemetry.log_level });
  const clock = opts.clock ?? systemClock;
  const ids: IdSource = { uuid: randomUUID };
  const replicaId = replicaIdOf(config.state);
  const cluster = config.state.backend === 'redis' ? await openCluster(config, replicaId) : undefined;
  // 2. The record: audit store and its writer (the admission commit point), tracing.
  const audit: Audit | undefined = opts.recorder ? undefined : await createAudit(config.audit, { logger, clock, env, chain: auditChainOf(config.state) });
  await reconcileAbandoned(audit, logger);
  const recorder = opts.recorder ?? (audit as Audit).writer;
  // Tenants and keys live in the audit database (in memory with audit off), ORCH-1203.
  const tenantStore: TenantStore = audit?.sql ? new SqlTenantStore(audit.sql) : new MemoryTenantStore();
  const directory = await TenantDirectory.open({
    store: tenantStore, clock, ids,
    tokens: { data: config.auth.data_tokens, control: config.auth.control_tokens },
    defaultTenant: config.tenancy.default_tenant,
    ...(cluster ? { changed: cluster.kit.directoryAnnouncer({ publisher: cluster.redis, channel: cluster.keys.tenancy, replicaId, logger }) } : {}),
  });
  if (cluster && config.audit.backend !== 'postgres') {
    logger.warn({ audit_backend: config.audit.backend }, 'state.backend redis with audit.backend other than postgres: tenants and API keys made through the admin API stay on the replica that made them; use a shared server Postgres (docs/operations.md "Running several replicas")');
  }
  // Another replica's tenant or key change reaches this one's directory (the store is shared).
  const unfollowDirectory = cluster
    ? await cluster.kit.followDirectoryChanges({ subscriber: cluster.subscriber, channel: cluster.keys.tenancy, replicaId, reload: () => directory.reload(), logger })
    : undefined;
  const tracing = startTracing(env);
  const taskTracing = createTaskTracing(tracing);
  // 3. Pools (engines come in through the adapter registry's catalog), then what reads them.
  const engines = opts.engines ?? engineCatalog;
  const pools = new PoolManager<Task>(config.pools, { clock, logger, engines, maxTokensOf: (task) => task.request.max_tokens, weightOf: (tenant) => directory.weightOf(tenant) });
  // Engines' own /metrics, read on one timer off the request path (docs/metrics.md "Engines").
  const intervalMs = engineScrapeIntervalMs(config.pools);
  const engineScraper: EngineScraper | undefined = config.telemetry.scrape_engine_metrics
    ? startEngineScraper({ pools: () => pools.list(), intervalMs, timeoutMs: Math.min(intervalMs, 5_000), logger })
    : undefined;
  const streams = { open: 0 };
  // With the redis backend, /metrics and /v1/pools also show the cluster-wide figures (cached reads).
  const clusterFigures = cluster
    ? new cluster.kit.ClusterFiguresReader({ redis: cluster.redis, keys: cluster.keys, gatewayReplica: replicaId, poolIds: () => pools.list().map((p) => p.id) })
    : undefined;
  const metrics: Metrics | undefined = config.telemetry.metrics
    ? createMetrics({
        snapshot: () => buildSnapshot(pools.list(), { openStreams: streams.open, retainedTaskBytes: tasks.retainedBytes }, engineScraper?.of),
        tenantLabels: { listed: config.telemetry.tenant_labels, max: config.telemetry.max_tenant_labels },
        ...(clusterFigures ? { cluster: clusterFigures } : {}),
      })
    : undefined;
  if (metrics && audit && config.audit.backend !== 'off') {
    const writer = audit.writer;
    metrics.auditStatus(() => ({ lag_seconds: writer.lagMs() / 1000, gaps_total: writer.gaps(), pending: writer.pending(), head: writer.head() }));
  }
  // Shared state behind core's ports (in memory: the embedded default), before the observers
  // because the quota gate watches placements.
  const sessions = new MemorySessionStore(
    { ttlMs: config.sessions.ttl_ms, maxTurns: config.sessions.max_turns, maxSessions: config.sessions.max_sessions },
    clock,
  );
  // With the redis backend the sessions live in Redis, shared by the replicas: the session routes
  // and the cluster's admissions use that store; its holds carry this replica's id, so a
  // survivor's takeover gives them back if this replica dies.
  const sharedSessions = cluster
    ? new cluster.kit.RedisSessionStore({ redis: cluster.redis, keys: cluster.keys, ttlMs: config.sessions.ttl_ms, maxTurns: config.sessions.max_turns, maxSessions: config.sessions.max_sessions, replicaId: cluster.replicaId })
    : undefined;
  const quotas = new QuotaGate({ directory, counters: new MemoryQuotaCounters(), sessions, store: tenantStore, clock, logger, defaultSessionTtlMs: config.sessions.ttl_ms });
  await quotas.restore();
  // 4. Lifecycle facts fan out to every observer.
  const observer = fanOut(
    [
      createLogObserver(logger),
      ...(audit ? [audit.writer] : []),
      ...(metrics ? [metrics, backpressureOf(metrics)] : []),
      taskTracing,
      quotas.observer,
      { streamOpened: () => void streams.open++, streamClosed: () => void streams.open-- },
      ...(opts.observers ?? []),
    ],
    logger,
  );
  // 5. The rest of the shared state (idempotency, event logs).
  // Entries are forgotten when their task leaves retention; the TTL is only a backstop.
  const idempotency = new IdempotencyIndex({ maxEntries: 100_000, ttlMs: 24 * 3_600_000 }, clock);
  // 6. The task service subscribes to the pools' capacity and endings. With the redis backend
  // it is the cluster's (shared admission, claims, streams), a separate composition: the
  // memory path below is unchanged.
  const serviceDeps = {
    config,
    pools,
    sessions,
    newEventLog: () => new TaskEventLog(),
    clock,
    ids,
    observer,
    recorder,
    logger,
    traceparentFor: (id: string) => taskTracing.engineTraceparent(id),
    traced: (correlationId: string) => taskTracing.traced(correlationId),
  };
  const clustered = cluster
    ? new cluster.kit.ClusterTaskService({
        ...serviceDeps,
        cluster,
        sessions: sharedSessions as RedisSessionStore,
        sessionCreate: (owner) => quotas.sessionCreate(owner),
        subjectsOf: (owner, now) => directory.subjectsOf(owner).map(({ subject, limits }) => ({
          subject, limits, ...(limits.budget ? { period: periodBounds(limits.budget.period, now) } : {}),
        })),
        weightOf: (tenant) => directory.weightOf(tenant),
      })
    : undefined;
  const tasks = clustered ?? new TaskService({ ...serviceDeps, idempotency, quotas });
  await pools.probeAll();
  const sweep = setInterval(() => sessions.sweep(), Math.min(config.sessions.ttl_ms, 60_000));
  sweep.unref();
  // 7. Control: config reload beside the pool manager it drives.
  const initial = structuredClone(config);
  const reloader = new ConfigReloader({
    load: opts.loadConfig ?? (async () => ({ ok: true, config: structuredClone(initial) })),
    config,
    pools,
    engines,
    logger,
    observer,
  });
  const reloadConfig = (actor: string, correlationId?: string) => reloader.reload(actor, correlationId);
  // 8. HTTP: route groups as plugins, then the server (which never listens by itself).
  // With the redis backend, drain and reload reach every live replica (the membership joins below).
  const joined: { membership?: Membership } = {};
  const peers = cluster ? (command: BroadcastCommand) => joined.membership?.broadcast(command) ?? Promise.resolve([]) : undefined;
  const control = (app: FastifyInstance) => controlRoutes(app, { pools, observer, reloadConfig, ...(peers ? { peers } : {}) });
  const auditApi = (app: FastifyInstance) => auditRoutes(app, { store: audit?.store ?? null, writer: audit?.writer ?? noopRecorder() });
  // With the redis backend, quota standings (admin usage, the session routes' cap) are the cluster's, read from Redis.
  const sharedStanding = cluster ? new cluster.kit.RedisQuotaStanding({ redis: cluster.redis, keys: cluster.keys, subjectsOf: (owner) => directory.subjectsOf(owner) }) : undefined;
  const standingOf = (owner: { tenant: string; keyId: string }) => sharedStanding?.standing(owner) ?? quotas.standing(owner);
  const admin = (app: FastifyInstance) => adminRoutes(app, { directory, observer, standing: (tenant) => standingOf({ tenant, keyId: '' }) });
  const plugins = [taskTracing.plugin, control, auditApi, admin, ...(metrics ? [metricsPlugin(metrics, { plane: 'control' })] : []), ...(opts.plugins ?? [])];
  const history = audit?.store ? ownedTaskHistory(audit.store) : undefined;
  const catalog = new ModelCatalog({ config, pools, clock, logger });
  const app = await buildServer({ config, logger, tasks: clustered?.desk() ?? tasks, pools, sessions: sharedSessions ?? sessions, ids, observer, catalog, plugins, directory, quotas: sharedStanding ? { standing: standingOf, sessionCreate: (owner) => quotas.sessionCreate(owner) } : quotas, ...(history ? { taskHistory: history } : {}), ...(clusterFigures ? { clusterFigures } : {}) });
  // Joins the cluster last: the lease's renewals start once the slow synchronous build (route
  // schemas) is done, so a short lease_ms does not expire before the replica serves.
  const controlActions: ControlActions = { drain: (id, ms) => pools.drain(id, ms), reloadPool: (id) => pools.reload(id), reloadConfig: (actor) => reloadConfig(actor) };
  const membership = clustered && cluster ? await startCluster(clustered, { cluster, clock, ids, logger, observer, leaseMs: config.state.lease_ms, control: controlActions }) : undefined;
  if (membership) joined.membership = membership;
  return {
    app,
    config,
    tasks,
    pools,
    sessions,
    reloadConfig,
    async close() {
      clearInterval(sweep);
      engineScraper?.stop();
      tasks.shutdown();
      await app.close();
      await clustered?.settle();
      await membership?.leave();
      await unfollowDirectory?.();
      await cluster?.close();
      await pools.close();
      await audit?.close();
      await tracing.shutdown();
    },
  };
}

/** Joins the cluster (lease, control bus), then subscribes to wake-ups and publishes capacity. */
async function startCluster(tasks: ClusterTaskService, deps: { cluster: OpenCluster; clock: TimerClock; ids: IdSource; logger: Logger; observer: LifecycleObserver; leaseMs: number; control: ControlActions }): Promise<Membership> {
  const membership = await deps.cluster.kit.joinCluster({ ...deps, tasks });
  await tasks.start();
  return membership;
}

/** The message of a startup failure and of its causes, on one line ("connect ECONNREFUSED 10.0.0.5:5432"). */
function startupFailure(error: unknown): string {
  const parts: string[] = [];
  const note = (e: unknown) => {
    const text = e instanceof Error ? e.message || ('code' in e ? String(e.code) : e.name) : String(e);
    if (text && !parts.includes(text)) parts.push(text);
  };
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 4; e = e instanceof Error ? e.cause : undefined, depth++) {
    note(e);
    // Node reports a refused dual-stack connect as an AggregateError with an empty message.
    if (e instanceof AggregateError && e.errors.length > 0) note(e.errors[0]);
  }
  return parts.join(': ').replace(/\s+/g, ' ');
}

/** Queue policies acting (refusal or eviction), counted for the backpressure alert. */
function backpressureOf(metrics: Metrics): LifecycleObserver {
  return {
    rejected: (f) => {
      if (f.code === 'ADMISSION_REJECT' && f.pool_id !== undefined) metrics.backpressure(f.pool_id, f.policy_label ?? 'reject');
    },
    finished: (f) => {
      if (f.state === 'evicted') metrics.backpressure(f.pool_id, 'drop-lru');
    },
  };
}

async function run(): Promise<void> {
  const argv = process.argv.slice(2);
  const loaded = await loadConfig(argv, process.env, engineCatalog);
  if (!loaded.ok) {
    process.stderr.write(`orchqueue: invalid configuration\n${loaded.problems.map((p) => `  - ${p}`).join('\n')}\n`);
    process.exit(2);
  }
  const exposure = checkExposure(loaded.config);
  if (!exposure.ok) {
    process.stderr.write(`orchqueue: ${exposure.problem}\n`);
    process.exit(2);
  }
  let gateway: Gateway;
  try {
    gateway = await compose(loaded.config, { loadConfig: () => loadConfig(argv, process.env, engineCatalog) });
  } catch (error) {
    // One line an operator can act on (an unreachable DATABASE_URL, a locked PGlite dir), credentials redacted.
    process.stderr.write(`orchqueue: cannot start: ${redactCredentials(startupFailure(error))}\n`);
    process.exit(1);
  }
  for (const warning of exposure.warnings) gateway.app.log.warn({ host: loaded.config.server.host }, `insecure exposure: ${warning}`);
  const { host, port } = loaded.config.server;
  let address: string;
  try {
    await gateway.app.ready();
    // Node writes the compile cache (NODE_COMPILE_CACHE: `npm start`, the image) only when the
    // process exits normally; a gateway killed (SIGKILL, the OOM killer) or one started while
    // another runs would otherwise start cold and load the TypeScript stripper again (≈ 20 MiB
    // resident for good, docs/operations.md "Memory"). Every start-up module is loaded by now.
    flushCompileCache();
    address = await gateway.app.listen({ host, port });
  } catch (error) {
    process.stderr.write(`orchqueue: cannot listen on ${host}:${port}: ${startupFailure(error)}\n`);
    await gateway.close().catch(() => undefined);
    process.exit(1);
  }
  gateway.app.log.info({ address, pools: gateway.pools.list().map((p) => p.id) }, 'orchqueue listening');
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    gateway.app.log.info({ signal }, 'shutting down');
    void gateway.close().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // The reloader logs and audits the outcome; a refused file leaves the running config as is.
  process.on('SIGHUP', () => void gateway.reloadConfig('signal:SIGHUP'));
}

if (import.meta.main) await run();
