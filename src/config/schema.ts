// The configuration schema: one TypeBox definition gives both the TypeScript type and the JSON
// Schema that `npm run gen` writes to contracts/schemas/config.schema.json. Keys are
// snake_case because operators write them in YAML/JSON files.

import { Type, type Static } from '@sinclair/typebox';
import { EngineKind as ENGINE_KINDS } from '../generated/enums.ts';

/** The longest timer Node can arm (2^31 − 1 ms, about 24.8 days): a longer one fires at once. */
export const MAX_TIMER_MS = 2_147_483_647;

const Ms = (description: string, def: number, min = 1, max = MAX_TIMER_MS) => Type.Integer({ minimum: min, maximum: max, default: def, description });

export const LabelsSchema = Type.Object(
  {
    accelerator: Type.Optional(Type.Union([Type.Literal('nvidia'), Type.Literal('cpu')])),
    device_mask: Type.Optional(Type.String({ description: 'e.g. "0,1" (CUDA_VISIBLE_DEVICES form)' })),
    memory_bytes: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

export const MockEngineSchema = Type.Object(
  {
    tokens_per_s: Type.Number({ exclusiveMinimum: 0, default: 200, description: 'decode speed of the built-in mock engine' }),
    first_token_delay_ms: Type.Integer({ minimum: 0, maximum: MAX_TIMER_MS, default: 20 }),
    fail_at_token: Type.Optional(Type.Integer({ minimum: 0, description: 'fault: throw WORKER_RESET after N tokens' })),
    hang_at_token: Type.Optional(Type.Integer({ minimum: 0, description: 'fault: stop producing after N tokens' })),
    reset_before_first_token: Type.Optional(Type.Boolean({ description: 'fault: fail before the first token' })),
    ctx_max: Type.Integer({ minimum: 1, default: 8192 }),
    engine_version: Type.String({ default: 'mock-1' }),
  },
  { additionalProperties: false },
);

/** Quota limits of a tenant or key (src/core/tenancy/limits.ts; the contract's QuotaLimits). */
export const QuotaLimitsSchema = Type.Object(
  {
    requests_per_min: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000_000 })),
    tokens_per_min: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000_000 })),
    max_concurrent_tasks: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000 })),
    max_queued_tasks: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000 })),
    max_sessions: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000 })),
    max_session_ttl_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 604_800_000 })),
    budget: Type.Optional(Type.Object(
      {
        period: Type.Union([Type.Literal('day'), Type.Literal('month')]),
        tokens: Type.Optional(Type.Integer({ minimum: 0 })),
        cost: Type.Optional(Type.Number({ minimum: 0 })),
      },
      { additionalProperties: false },
    )),
  },
  { additionalProperties: false, default: {}, description: 'unset = unlimited; limits per tenant and optionally per key (docs/operations.md "Tenants and keys")' },
);

export const ReplicaSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9._-]+$' }),
    url: Type.Optional(Type.String({ description: 'engine base URL; not used by the mock engine' })),
    slots: Type.Optional(Type.Integer({ minimum: 1, description: 'override the slot count the engine reports' })),
    labels: Type.Optional(LabelsSchema),
    mock: Type.Optional(Type.Partial(MockEngineSchema)),
    options: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'engine-specific adapter options' })),
  },
  { additionalProperties: false },
);

export const QueuePolicySchema = Type.Union([Type.Literal('reject'), Type.Literal('drop-lru')]);

export const PoolSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9._-]+$' }),
    engine: Type.Union(ENGINE_KINDS.map((k) => Type.Literal(k))),
    model: Type.String({ minLength: 1, description: 'client-facing model name' }),
    aliases: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    engine_model: Type.Optional(Type.String({ description: 'model name sent to the engine (default: model)' })),
    replicas: Type.Array(ReplicaSchema, { minItems: 1 }),
    require_same_engine_version: Type.Boolean({ default: false }),
    engine_version: Type.Optional(Type.String({ description: 'pin: replicas reporting another version are kept out' })),
    tokens_per_s: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, description: 'decode speed of one stream expected before the pool has measured itself: start predictions and retry hints from the first request' }),
    ),
    fallbacks: Type.Array(Type.String({ minLength: 1, pattern: '^[A-Za-z0-9._-]+$' }), {
      default: [],
      description:
        'ordered pool ids that take a task this pool failed before its first token with a retriable error (overload, rate limit, 5xx, reset); never after the first token',
    }),
    fallback_on_no_capacity: Type.Boolean({
      default: false,
      description: 'also admit into the first fallback with room when this pool has none at admission (no ready replica, provider rate limit, full queue)',
    }),
    cost_per_1k_tokens: Type.Number({
      minimum: 0,
      default: 1,
      description: 'the fallback price when the price table has no row for the pool: cost charged to session cost budgets per 1000 tokens (input + output); not reported as USD',
    }),
    queue: Type.Object(
      {
        max_queued: Type.Integer({ minimum: 1, default: 256, description: 'tasks that may wait for a slot (running tasks do not count)' }),
        policy: Type.Union([Type.Literal('reject'), Type.Literal('drop-lru')], { default: 'reject' }),
        interactive_weight: Type.Integer({ minimum: 1, default: 3 }),
        batch_weight: Type.Integer({ minimum: 1, default: 1 }),
      },
      { additionalProperties: false, default: {} },
    ),
    timeouts: Type.Object(
      {
        connect_ms: Ms('TCP connect timeout', 2_000),
        first_byte_ms: Ms('time to response headers', 30_000),
        idle_ms: Ms('longest silence inside a stream → DECODE_TIMEOUT', 60_000),
        wall_ms: Ms('longest total decode time → DECODE_TIMEOUT', 600_000),
      },
      { additionalProperties: false, default: {} },
    ),
    health: Type.Object(
      {
        interval_ms: Ms('probe interval while healthy', 2_000, 10),
        max_backoff_ms: Ms('cap of the probe backoff while failing', 30_000, 10),
        breaker_failures: Type.Integer({ minimum: 1, default: 3 }),
        breaker_open_ms: Ms('time the breaker stays open before a half-open probe', 5_000, 10),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

/** Prices are per million tokens; the upper bound only catches a misplaced decimal point. */
const PerMtok = (description: string) => Type.Number({ minimum: 0, maximum: 100_000, description });

/** A model's price, in the units providers publish (USD per million tokens). */
export const PriceSchema = Type.Object(
  {
    input_per_mtok: PerMtok('USD per million input tokens that were not read from the prompt cache'),
    cached_input_per_mtok: Type.Optional(PerMtok('USD per million input tokens read from the prompt cache (default: input_per_mtok)')),
    output_per_mtok: PerMtok('USD per million output tokens'),
    currency: Type.Literal('USD', { default: 'USD' }),
  },
  { additionalProperties: false },
);

/** One row of the price table: matched against a pool's `engine_model`, then its `model` (docs/providers.md "Pricing"). */
export const PriceRowSchema = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 256, description: 'the engine model (what the provider bills) or the client-facing model' }),
    input_per_mtok: PerMtok('USD per million input tokens that were not read from the prompt cache'),
    cached_input_per_mtok: Type.Optional(PerMtok('USD per million input tokens read from the prompt cache (default: input_per_mtok)')),
    output_per_mtok: PerMtok('USD per million output tokens'),
    currency: Type.Literal('USD', { default: 'USD' }),
  },
  { additionalProperties: false },
);

/** A static model catalog entry: what GET /v1/models and `orchqueue models` say about a model. */
export const CatalogEntrySchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 256, description: 'a model id: a pool model or alias it describes, or a model no pool serves yet' }),
    context_length: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000 })),
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    pricing: Type.Optional(PriceSchema),
  },
  { additionalProperties: false },
);

export const AuditSchema = Type.Object(
  {
    backend: Type.Union([Type.Literal('pglite'), Type.Literal('postgres'), Type.Literal('off')], { default: 'pglite' }),
    data_dir: Type.String({ default: '.data/audit', description: 'PGlite data directory; "memory://" for in-memory' }),
    database_url: Type.Optional(Type.String({ description: 'server Postgres; DATABASE_URL overrides' })),
    fail_closed: Type.Boolean({ default: true }),
    batch_max_rows: Type.Integer({ minimum: 1, default: 256 }),
    batch_max_ms: Type.Integer({ minimum: 0, maximum: 60_000, default: 5 }),
    buffer_max_rows: Type.Integer({ minimum: 1, default: 10_000 }),
    hash_prompts: Type.Boolean({ default: false }),
    retention_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 36_500 })),
  },
  { additionalProperties: false, default: {} },
);

/**
 * Where the state several gateway replicas share lives (issue 15): `memory` is the one-process
 * default; `redis` composes the cluster task service (src/orchestration/cluster/, docs/architecture.md
 * "Scale-out on Redis").
 */
export const StateSchema = Type.Object(
  {
    backend: Type.Union([Type.Literal('memory'), Type.Literal('redis')], { default: 'memory' }),
    url: Type.Optional(
      Type.String({
        pattern: '^rediss?://[^\\s]+$',
        maxLength: 2048,
        description: 'redis:// or rediss:// URL of the shared Redis (backend redis); REDIS_URL overrides',
      }),
    ),
    key_prefix: Type.String({
      minLength: 1,
      maxLength: 64,
      pattern: '^[A-Za-z0-9._:-]+$',
      default: 'orchqueue:',
      description: 'prefix of every Redis key and channel, so several gateways (or tests) can share one Redis',
    }),
    replica_id: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        pattern: '^[A-Za-z0-9._-]+$',
        description: 'this gateway replica\'s name in the cluster (backend redis): leases, task owners, audit chain, metric label; default <hostname>-<pid>. ORCHQUEUE_REPLICA_ID overrides',
      }),
    ),
    lease_ms: Type.Integer({
      minimum: 1_000,
      maximum: 600_000,
      default: 10_000,
      description: 'how long a replica\'s lease lives without renewal (renewed every third of it); a replica silent this long is declared lost and its tasks ended by a survivor',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const ConfigSchema = Type.Object(
  {
    server: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1', description: 'bind address; a non-loopback address needs auth.control_tokens or allow_open' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
        allow_open: Type.Boolean({
          default: false,
          description: 'start on a non-loopback address with an open control plane (no auth.control_tokens); logged as a warning. Same as --insecure',
        }),
        body_limit_bytes: Type.Integer({ minimum: 1024, maximum: 67_108_864, default: 1_048_576 }),
        body_discard_limit_bytes: Type.Integer({
          minimum: 0,
          maximum: 67_108_864,
          default: 4_194_304,
          description: 'after an early refusal (413, 401) the rest of an upload is read and thrown away up to this many bytes, so the client sees the answer; past it the connection is closed',
        }),
        headers_timeout_ms: Ms('time a client has to send the request line and headers', 10_000, 100, 600_000),
        request_timeout_ms: Ms('time a client has to send the whole request, body included (not the response: streams are not cut)', 30_000, 100, 3_600_000),
        keep_alive_timeout_ms: Ms('idle time before a keep-alive connection is closed', 72_000, 100, 600_000),
        max_connections: Type.Integer({
          minimum: 1,
          maximum: 1_000_000,
          default: 16_384,
          description: 'open client connections at most; more are answered 429 RATE_LIMITED and closed. A streaming connection also holds an engine socket: the process needs about twice this many file descriptors (ulimit -n)',
        }),
        max_connections_per_client: Type.Integer({
          minimum: 1,
          maximum: 1_000_000,
          default: 1024,
          description: 'open connections per client address at most; more are answered 429 RATE_LIMITED and closed (behind a proxy or load balancer every client shares its address: size this like max_connections)',
        }),
        heartbeat_ms: Ms('SSE heartbeat interval while no event flows', 15_000, 100, 3_600_000),
        default_max_tokens: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 512, description: 'max_tokens for an OpenAI-dialect request that gives none (OpenAI lets clients omit it)' }),
        retention_ms: Ms('how long a finished task and its events stay readable', 300_000, 0, 86_400_000),
        max_finished_tasks: Type.Integer({
          minimum: 1,
          maximum: 10_000_000,
          default: 10_000,
          description: 'finished tasks kept readable at most; past it the oldest are forgotten before retention_ms (bounds memory)',
        }),
        retention_max_bytes: Type.Integer({
          minimum: 0,
          maximum: 68_719_476_736,
          default: 268_435_456,
          description: 'estimated heap bytes of finished tasks kept readable at most (their event logs; prompts are not kept); past it the oldest are forgotten before retention_ms',
        }),
        unclaimed_stream_timeout_ms: Ms('0 = never cancel a task whose stream nobody opened', 0, 0, 86_400_000),
        orphan_grace_ms: Ms(
          'cancel a queued or running task (reason orphaned) once every reader of its stream has been gone this long; tasks submitted with detach: true are exempt; 0 = never',
          5_000,
          0,
          86_400_000,
        ),
        max_prompt_chars: Type.Integer({ minimum: 1, maximum: 67_108_864, default: 200_000 }),
        max_tokens_limit: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 32_768 }),
      },
      { additionalProperties: false, default: {} },
    ),
    auth: Type.Object(
      {
        data_tokens: Type.Array(Type.String({ minLength: 8 }), { default: [], description: 'empty = data plane open' }),
        control_tokens: Type.Array(Type.String({ minLength: 8 }), { default: [], description: 'empty = control plane open' }),
      },
      { additionalProperties: false, default: {} },
    ),
    tenancy: Type.Object(
      {
        default_tenant: Type.Object(
          {
            weight: Type.Integer({ minimum: 1, maximum: 1000, default: 1, description: "the default tenant's share of each queue class among tenants with waiting work" }),
            limits: QuotaLimitsSchema,
          },
          { additionalProperties: false, default: {}, description: 'the tenant of static tokens (auth.*_tokens) and of open planes' },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    sessions: Type.Object(
      {
        ttl_ms: Ms('default idle lifetime of a session', 600_000, 1, 604_800_000),
        max_turns: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 8 }),
        max_sessions: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 100_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    pools: Type.Array(PoolSchema, { minItems: 1 }),
    audit: AuditSchema,
    state: StateSchema,
    pricing: Type.Array(PriceRowSchema, { default: [], maxItems: 10_000, description: 'the price table: task cost, session cost budgets, the cost metric (docs/providers.md "Pricing")' }),
    catalog: Type.Array(CatalogEntrySchema, { default: [], maxItems: 10_000, description: 'static model catalog entries; they win over what a provider lists' }),
    model_discovery: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'ask adapters that can list models (Ollama /api/tags) to add what they serve to the catalog' }),
        ttl_ms: Ms('how long a provider model listing is reused before it is asked again', 300_000, 1_000, 86_400_000),
        timeout_ms: Ms('how long one listing may take; a slower or failed one adds nothing', 2_000, 10, 60_000),
      },
      { additionalProperties: false, default: {} },
    ),
    telemetry: Type.Object(
      {
        log_level: Type.Union(
          [
            Type.Literal('fatal'),
            Type.Literal('error'),
            Type.Literal('warn'),
            Type.Literal('info'),
            Type.Literal('debug'),
            Type.Literal('trace'),
            Type.Literal('silent'),
          ],
          { default: 'info' },
        ),
        metrics: Type.Boolean({ default: true }),
        scrape_engine_metrics: Type.Boolean({ default: false }),
        tenant_labels: Type.Array(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }), {
          default: [],
          uniqueItems: true,
          description: 'tenants that always get their own `tenant` metric label value (at most max_tenant_labels)',
        }),
        max_tenant_labels: Type.Integer({
          minimum: 0,
          maximum: 100,
          default: 20,
          description: 'distinct tenant label values: the listed tenants, then the first tenants seen; the rest are `other`',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, $id: 'https://orchqueue.dev/schemas/config.schema.json', title: 'OrchQueue configuration' },
);

export type Config = Static<typeof ConfigSchema>;
export type PoolConfig = Static<typeof PoolSchema>;
export type ReplicaConfig = Static<typeof ReplicaSchema>;
export type AuditConfig = Static<typeof AuditSchema>;
export type StateConfig = Static<typeof StateSchema>;
export type MockEngineConfig = Static<typeof MockEngineSchema>;
export type PriceConfig = Static<typeof PriceSchema>;
export type PriceRowConfig = Static<typeof PriceRowSchema>;
export type CatalogEntryConfig = Static<typeof CatalogEntrySchema>;
