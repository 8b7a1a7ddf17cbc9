// buildServer(deps): the Fastify instance with validation from the contract, the error
// taxonomy, correlation ids, auth, the connection edge (timeouts, caps) and every route group.
// It never listens by itself (main.ts and tests do), so tests get the real server on an
// ephemeral port.

import { randomUUID } from 'node:crypto';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { installAuth } from './api/auth.ts';
import { docsRoutes } from './api/docs/routes.ts';
import { clientErrorHandler, connectionGuard, discardUnreadBody, type ConnectionLimits } from './api/connection-guard.ts';
import { fromFastifyError, sendError } from './api/errors.ts';
import { installJsonParsers } from './api/json-body.ts';
import { anthropicRoutes } from './api/anthropic/routes.ts';
import { openAiRoutes } from './api/openai/routes.ts';
import { poolRoutes, type PoolRoutesDeps } from './api/pools/routes.ts';
import { sessionRoutes, type SessionRoutesDeps, type SessionRoutesStore } from './api/sessions/routes.ts';
import { systemRoutes } from './api/system/routes.ts';
import { taskRoutes, type TaskRoutesDeps } from './api/tasks/routes.ts';
import type { Config } from './config/schema.ts';
import { orchError } from './core/errors.ts';
import type { LifecycleObserver } from './core/observer.ts';
import type { IdSource } from './core/ports.ts';
import type { Task } from './orchestration/task.ts';
import type { ModelCatalog } from './orchestration/model-catalog.ts';
import type { TaskDesk } from './orchestration/streamed-task.ts';
import type { TenantDirectory } from './tenancy/directory.ts';
import { correlationIdFrom } from './telemetry/logger.ts';
import { lazyChildLoggerFactory } from './telemetry/request-logger.ts';
import type { PoolManager } from './pool/pool-manager.ts';

/** Operations that submit work: their refusals before admission are still recorded. */
const SUBMISSIONS = new Set(['createTask', 'createChatCompletion', 'createCompletion', 'createMessage']);

export interface ServerDeps {
  config: Config;
  logger: Logger;
  tasks: TaskDesk;
  pools: PoolManager<Task>;
  /** The session routes' store: the memory one, or the Redis one shared by the replicas (state.backend redis). */
  sessions: SessionRoutesStore;
  ids: IdSource;
  observer: LifecycleObserver;
  /** Credentials → tenant, key id and scopes (src/tenancy/directory.ts). */
  directory: TenantDirectory;
  /** Tenant session caps for POST /v1/sessions (src/tenancy/quota-gate.ts). */
  quotas?: SessionRoutesDeps['quotas'];
  /** The merged model catalog behind GET /v1/models. */
  catalog: ModelCatalog;
  /** GET /v1/tasks/{id} for a task no longer in memory: its status from the audit (absent: 404). */
  taskHistory?: TaskRoutesDeps['history'];
  /** The redis backend's cluster-wide pool figures for /v1/pools (absent in memory mode). */
  clusterFigures?: PoolRoutesDeps['cluster'];
  /** Extra route groups (metrics, audit, control actions) registered by the composition root. */
  plugins?: Array<(app: FastifyInstance) => Promise<void>>;
}

function validators() {
  const strict = new Ajv2020({ allErrors: false, coerceTypes: false, useDefaults: true, removeAdditional: false, strict: false });
  const coercing = new Ajv2020({ allErrors: false, coerceTypes: true, useDefaults: true, removeAdditional: false, strict: false });
  addFormats.default(strict);
  addFormats.default(coercing);
  return { strict, coercing };
}

/**
 * A route's validator, compiled by its first request instead of at start: many routes of a
 * gateway (admin, sessions, the other front door) may never be called, and each compiled
 * validator's code stays in the heap for good (issue 14). Fastify reads `errors` after a
 * failed validation, so the compiled function's are copied on each call.
 */
function compiledOnFirstUse(compile: () => ValidateFunction): ValidateFunction {
  let validate: ValidateFunction | undefined;
  const lazy = ((data: unknown) => {
    validate ??= compile();
    const valid = validate(data);
    lazy.errors = validate.errors;
    return valid;
  }) as ValidateFunction;
  lazy.errors = null;
  return lazy;
}

/** Longest path segment the router matches; longer ids are 414, ids up to it reach the schema (maxLength 128 → 400). */
const MAX_PARAM_LENGTH = 512;

function limitsOf(server: Config['server']): ConnectionLimits {
  return {
    headersTimeoutMs: server.headers_timeout_ms,
    requestTimeoutMs: server.request_timeout_ms,
    keepAliveTimeoutMs: server.keep_alive_timeout_ms,
    maxConnections: server.max_connections,
    maxConnectionsPerClient: server.max_connections_per_client,
    bodyDiscardLimitBytes: server.body_discard_limit_bytes,
  };
}

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const limits = limitsOf(config.server);
  const guard = connectionGuard(limits);
  const app = Fastify({
    // A pino Logger is a FastifyBaseLogger; widening keeps FastifyInstance's default generics.
    loggerInstance: deps.logger as FastifyBaseLogger,
    serverFactory: (handler) => guard.createServer(handler),
    clientErrorHandler,
    // Bad percent-encoding and over-long path segments, which the router refuses itself.
    frameworkErrors: (err, req, reply) => sendError(reply.header('x-correlation-id', String(req.id)), fromFastifyError(err)),
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    bodyLimit: config.server.body_limit_bytes,
    // Request lines come from the lifecycle log observer and metrics, not per request.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'correlation_id' }),
    requestIdHeader: false,
    genReqId: (req) => correlationIdFrom(req.headers['x-correlation-id'], randomUUID),
    // req.log is bound to the correlation id but built only when something logs through it (issue 14).
    childLoggerFactory: lazyChildLoggerFactory,
    return503OnClosing: true,
  });

  installJsonParsers(app);

  const ajv = validators();
  app.setValidatorCompiler(({ schema, httpPart }) =>
    compiledOnFirstUse(() => (httpPart === 'body' ? ajv.strict : ajv.coercing).compile(schema as object)),
  );

  // Callback-style hooks (here and in auth.ts), not async ones: an async hook costs a promise and
  // a microtask turn per request, on the 429 path too (issue 14). A hook that answers does not call done.
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-correlation-id', String(req.id));
    const refused = guard.refusal(req);
    if (refused) sendError(reply.header('connection', 'close'), refused);
    else done();
  });
  app.addHook('onSend', discardUnreadBody(limits));
  installAuth(app, deps.directory);

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const error = fromFastifyError(err, { bodyLimitBytes: config.server.body_limit_bytes });
    if (error.code === 'INTERNAL') req.log.error({ err }, 'unhandled error');
    // Refusals of a submission are recorded like admission refusals (audit row, metric, log),
    // whichever front door it came through (ORCH-1100).
    if (SUBMISSIONS.has(req.routeOptions.config?.operationId ?? '')) {
      deps.observer.rejected?.({ correlation_id: String(req.id), code: error.code, message: error.message });
    }
    return sendError(reply, error);
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, orchError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`)));

  await app.register(systemRoutes, { pools: deps.pools });
  await app.register(docsRoutes);
  await app.register(taskRoutes, {
    tasks: deps.tasks, observer: deps.observer, heartbeatMs: config.server.heartbeat_ms,
    ...(deps.taskHistory === undefined ? {} : { history: deps.taskHistory }),
  });
  await app.register(sessionRoutes, { sessions: deps.sessions, ids: deps.ids, observer: deps.observer, ...(deps.quotas ? { quotas: deps.quotas } : {}) });
  await app.register(poolRoutes, { pools: deps.pools, ...(deps.clusterFigures ? { cluster: deps.clusterFigures } : {}) });
  const dialectDeps = { tasks: deps.tasks, observer: deps.observer, heartbeatMs: config.server.heartbeat_ms };
  await app.register(openAiRoutes, { ...dialectDeps, pools: deps.pools, catalog: deps.catalog, defaultMaxTokens: config.server.default_max_tokens });
  await app.register(anthropicRoutes, dialectDeps);
  for (const plugin of deps.plugins ?? []) await app.register(plugin);
  return app;
}
