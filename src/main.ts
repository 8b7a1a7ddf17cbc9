// The composition root: config → logger → pools → sessions → task service → audit/telemetry →
// buildServer → listen. `compose` is exported so tests start the exact same gateway on an
// ephemeral port; running this file directly starts it for real.

import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { auditRoutes } from './api/audit/routes.ts';
import { controlRoutes } from './api/control/routes.ts';
import { testStateRoutes } from './api/test-states/routes.ts';
import { createAudit, type Audit } from './audit/create-audit.ts';
import { noopRecorder } from './audit/recorder.ts';
import type { Config } from './config/schema.ts';
import { checkExposure } from './config/exposure.ts';
import { loadConfig, type ConfigResult } from './config/load.ts';
import { ConfigReloader, type ConfigReloaded } from './config/reload.ts';
import type { AdmissionRecorder, LifecycleObserver } from './core/observer.ts';
import type { Result } from './core/errors.ts';
import { systemClock, type Clock, type IdSource } from './core/ports.ts';
import { redactCredentials } from './core/redact.ts';
import { SessionStore } from './core/session/session-store.ts';
import { fanOut } from './orchestration/observers.ts';
import type { Task } from './orchestration/task.ts';
import { TaskService } from './orchestration/task-service.ts';
import type { Pool } from './pool/pool.ts';
import { PoolManager } from './pool/pool-manager.ts';
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
  clock?: Clock;
  /** Replaces the audit recorder (tests); the audit routes then serve no store. */
  recorder?: AdmissionRecorder;
  /** Environment for DATABASE_URL and OTEL_* (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  observers?: LifecycleObserver[];
  /** Where a config reload reads from; default: the config given to compose (a no-op reload). */
  loadConfig?: () => Promise<ConfigResult>;
}

export async function compose(config: Config, opts: ComposeOptions = {}): Promise<Gateway> {
  const env = opts.env ?? process.env;
  const logger = opts.logger ?? createLogger({ level: config.telemetry.log_level });
  const clock = opts.clock ?? systemClock;
  const ids: IdSource = { uuid: randomUUID };
  const audit: Audit | undefined = opts.recorder ? undefined : await createAudit(config.audit, { logger, clock, env });
  const recorder = opts.recorder ?? (audit as Audit).writer;
  const tracing = startTracing(env);
  const taskTracing = createTaskTracing(tracing);
  const streams = { open: 0 };
  const metrics: Metrics | undefined = config.telemetry.metrics
    ? createMetrics({ snapshot: () => buildSnapshot(pools.list(), streams.open, engineScraper?.of) })
    : undefined;
  if (metrics && audit && config.audit.backend !== 'off') {
    const writer = audit.writer;
    metrics.auditStatus(() => ({ lag_seconds: writer.lagMs() / 1000, gaps_total: writer.gaps(), pending: writer.pending() }));
  }
  const observer = fanOut(
    [
      createLogObserver(logger),
      ...(audit ? [audit.writer] : []),
      ...(metrics ? [metrics, backpressureOf(metrics)] : []),
      taskTracing,
      { streamOpened: () => void streams.open++, streamClosed: () => void streams.open-- },
      ...(opts.observers ?? []),
    ],
    logger,
  );
  const sessions = new SessionStore(
    { ttlMs: config.sessions.ttl_ms, maxTurns: config.sessions.max_turns, maxSessions: config.sessions.max_sessions },
    clock,
  );
  // Pools report capacity to the dispatcher, which the task service owns: bind it once both exist.
  const capacity: { pump?: (pool: Pool<Task>) => void } = {};
  const pools: PoolManager<Task> = new PoolManager<Task>(config.pools, {
    clock,
    logger,
    onCapacity: (pool) => {
      const typed = pools.get(pool.id);
      if (typed) capacity.pump?.(typed);
    },
    // Drain deadlines and removed pools end their tasks through the task service.
    endWork: (pool, scope, error) => tasks.endPoolWork(pool, scope, error),
  });
  const tasks = new TaskService({
    config,
    pools,
    sessions,
    clock,
    ids,
    observer,
    recorder,
    logger,
    traceparentFor: (id) => taskTracing.engineTraceparent(id),
  });
  capacity.pump = (pool) => tasks.dispatcher.pump(pool);
  await pools.probeAll();
  // Engines' own /metrics, read on one timer off the request path (docs/metrics.md "Engines").
  const intervalMs = engineScrapeIntervalMs(config.pools);
  const engineScraper: EngineScraper | undefined = config.telemetry.scrape_engine_metrics
    ? startEngineScraper({ pools: () => pools.list(), intervalMs, timeoutMs: Math.min(intervalMs, 5_000), logger })
    : undefined;
  const sweeper = setInterval(() => sessions.sweep(), Math.min(config.sessions.ttl_ms, 60_000));
  sweeper.unref();
  const initial = structuredClone(config);
  const reloader = new ConfigReloader({
    load: opts.loadConfig ?? (async () => ({ ok: true, config: structuredClone(initial) })),
    config,
    pools,
    logger,
    observer,
  });
  const reloadConfig = (actor: string, correlationId?: string) => reloader.reload(actor, correlationId);
  const control = (app: FastifyInstance) => controlRoutes(app, { pools, observer, reloadConfig });
  const auditApi = (app: FastifyInstance) => auditRoutes(app, { store: audit?.store ?? null, writer: audit?.writer ?? noopRecorder() });
  const plugins = [taskTracing.plugin, control, auditApi, ...(metrics ? [metricsPlugin(metrics, { plane: 'control' })] : [])];
  // Provider states for pact verification exist only in test mode (ORCH-0014).
  if (config.server.test_mode) plugins.push(testStateRoutes({ config, tasks, pools, sessions }));
  const app = await buildServer({ config, logger, tasks, pools, sessions, ids, observer, plugins });
  return {
    app,
    config,
    tasks,
    pools,
    sessions,
    reloadConfig,
    async close() {
      clearInterval(sweeper);
      engineScraper?.stop();
      tasks.shutdown();
      await app.close();
      await pools.close();
      await audit?.close();
      await tracing.shutdown();
    },
  };
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
  const loaded = await loadConfig(argv, process.env);
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
    gateway = await compose(loaded.config, { loadConfig: () => loadConfig(argv, process.env) });
  } catch (error) {
    // One line an operator can act on (an unreachable DATABASE_URL, a locked PGlite dir), credentials redacted.
    process.stderr.write(`orchqueue: cannot start: ${redactCredentials(startupFailure(error))}\n`);
    process.exit(1);
  }
  for (const warning of exposure.warnings) gateway.app.log.warn({ host: loaded.config.server.host }, `insecure exposure: ${warning}`);
  const { host, port } = loaded.config.server;
  let address: string;
  try {
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
