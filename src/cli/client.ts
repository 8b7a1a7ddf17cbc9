// The CLI's HTTP client for one gateway: one method per operation the CLI uses, typed by the
// contract. Refusals become `ApiError` (status, typed error body, backoff hint); event streams
// are parsed incrementally and yielded as they arrive. It decides nothing about exit codes,
// retries or printing (main.ts and the commands do).

import { request, type Dispatcher } from 'undici';
import type { components } from '../generated/api-types.ts';
import { parseSse } from '../transport/sse-parser.ts';

type Schemas = components['schemas'];
export type TaskRequest = Schemas['TaskRequest'];
export type TaskAccepted = Schemas['TaskAccepted'];
export type TaskStatus = Schemas['TaskStatus'];
export type CancelResult = Schemas['CancelResult'];
export type Session = Schemas['Session'];
export type PoolSummary = Schemas['PoolSummary'];
export type PoolDetail = Schemas['Pool'];
export type DrainAccepted = Schemas['DrainAccepted'];
export type ConfigReloaded = Schemas['ConfigReloaded'];
export type ApiErrorBody = Schemas['ApiError'];
export type AuditVerifyResult = Schemas['AuditVerification'];
export type AuditHead = Schemas['AuditHead'];
export type Tenant = Schemas['Tenant'];
export type TenantDetail = Schemas['TenantDetail'];
export type ApiKey = Schemas['ApiKey'];
export type ApiKeyCreated = Schemas['ApiKeyCreated'];
export type ModelList = Schemas['ModelList'];

export interface StreamEvent {
  id: number;
  event: string;
  data: Record<string, unknown>;
}

export interface EventStream {
  taskId: string;
  /** Events in order as they arrive; ends after the server closes the stream. */
  events: AsyncIterable<StreamEvent>;
}

export interface ClientOptions {
  /** Gateway base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  token?: string;
  /** undici dispatcher (tests); the global one otherwise. */
  dispatcher?: Dispatcher;
}

/** A refusal from the gateway, or a failure to reach it (`status` 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly error: ApiErrorBody | undefined;
  /** Retry hint in ms: `Retry-After` (seconds), else `X-Backoff-Ms`, else the body's `retry_after_ms`. */
  readonly retryAfterMs: number | undefined;
  readonly backoffMs: number | undefined;

  constructor(status: number, message: string, error?: ApiErrorBody, hints: { retryAfterMs?: number; backoffMs?: number } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.error = error;
    this.retryAfterMs = hints.retryAfterMs;
    this.backoffMs = hints.backoffMs;
  }

  get code(): string | undefined {
    return this.error?.code;
  }
}

type Headers = Record<string, string | string[] | undefined>;
const header = (headers: Headers, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

function numberOrUndefined(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return undefined;
  return Number(raw.trim());
}

function isErrorEnvelope(value: unknown): value is { error: ApiErrorBody } {
  if (typeof value !== 'object' || value === null || !('error' in value)) return false;
  const error = (value as { error: unknown }).error;
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string';
}

/** Builds the ApiError for a non-2xx answer from its status, headers and (JSON) body text. */
export function toApiError(status: number, headers: Headers, text: string): ApiError {
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  const error = isErrorEnvelope(body) ? body.error : undefined;
  const retryAfterS = numberOrUndefined(header(headers, 'retry-after'));
  const backoffMs = numberOrUndefined(header(headers, 'x-backoff-ms'));
  const retryAfterMs = retryAfterS !== undefined ? retryAfterS * 1000 : (backoffMs ?? error?.retry_after_ms);
  const message = error ? `${error.code}: ${error.message}` : `HTTP ${status}`;
  return new ApiError(status, message, error, { retryAfterMs, backoffMs });
}

async function* streamEvents(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<StreamEvent> {
  for await (const message of parseSse(body)) {
    let data: unknown;
    try {
      data = JSON.parse(message.data);
    } catch {
      throw new ApiError(0, `the gateway sent an event whose data is not JSON (id ${message.id ?? '?'})`);
    }
    yield { id: Number(message.id ?? 0), event: message.event ?? 'message', data: data as Record<string, unknown> };
  }
}

export interface OrchQueueClient {
  submit(body: TaskRequest, signal?: AbortSignal): Promise<TaskAccepted>;
  /** `POST /v1/tasks` with `Accept: text/event-stream`: the task's events in the same round trip. */
  submitStream(body: TaskRequest, signal?: AbortSignal): Promise<EventStream>;
  /** `GET /v1/tasks/{id}/stream`, resuming after `lastEventId` when given. */
  stream(taskId: string, opts?: { lastEventId?: number; signal?: AbortSignal }): Promise<EventStream>;
  status(taskId: string): Promise<TaskStatus>;
  cancel(taskId: string): Promise<CancelResult>;
  getSession(sessionId: string): Promise<Session>;
  deleteSession(sessionId: string): Promise<void>;
  listPools(): Promise<PoolSummary[]>;
  /** GET /v1/models: the merged model catalog. */
  listModels(): Promise<ModelList>;
  getPool(poolId: string): Promise<PoolDetail>;
  drainPool(poolId: string, deadlineMs: number): Promise<DrainAccepted>;
  reloadPool(poolId: string): Promise<PoolDetail>;
  reloadConfig(): Promise<ConfigReloaded>;
  auditVerify(): Promise<AuditVerifyResult>;
  auditHead(): Promise<AuditHead>;
  listTenants(): Promise<Tenant[]>;
  createTenant(body: Schemas['TenantCreate']): Promise<Tenant>;
  getTenant(tenantId: string): Promise<TenantDetail>;
  updateTenant(tenantId: string, body: Schemas['TenantUpdate']): Promise<Tenant>;
  listKeys(tenantId?: string): Promise<ApiKey[]>;
  createKey(body: Schemas['KeyCreate']): Promise<ApiKeyCreated>;
  getKey(keyId: string): Promise<ApiKey>;
  updateKey(keyId: string, body: Schemas['KeyUpdate']): Promise<ApiKey>;
  revokeKey(keyId: string): Promise<ApiKey>;
}

interface Call {
  method: 'GET' | 'POST' | 'DELETE' | 'PATCH';
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export function createClient(opts: ClientOptions): OrchQueueClient {
  const base = opts.url.replace(/\/+$/, '');

  async function send(call: Call) {
    const headers: Record<string, string> = { accept: 'application/json', ...call.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    // Also on bodiless POSTs (cancel, reload): the gateway reads an empty JSON body as none, while
    // an empty body without a media type is refused when a client frames it as chunked.
    if (call.body !== undefined || call.method === 'POST') headers['content-type'] = 'application/json';
    try {
      return await request(`${base}${call.path}`, {
        method: call.method,
        headers,
        body: call.body === undefined ? undefined : JSON.stringify(call.body),
        signal: call.signal,
        ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
      });
    } catch (err) {
      if (call.signal?.aborted) throw err;
      const reason = err instanceof Error ? ((err as { code?: string }).code ?? err.message) : String(err);
      throw new ApiError(0, `cannot reach the gateway at ${base} (${reason})`);
    }
  }

  async function json<T>(call: Call, expected: number[]): Promise<T> {
    const res = await send(call);
    const text = await res.body.text();
    if (!expected.includes(res.statusCode)) throw toApiError(res.statusCode, res.headers, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async function eventStream(call: Call, taskIdHint: string | undefined): Promise<EventStream> {
    const res = await send({ ...call, headers: { ...call.headers, accept: 'text/event-stream' } });
    const type = header(res.headers, 'content-type') ?? '';
    if (res.statusCode !== 200 || !type.startsWith('text/event-stream')) {
      throw toApiError(res.statusCode, res.headers, await res.body.text());
    }
    const taskId = header(res.headers, 'x-task-id') ?? taskIdHint ?? '';
    return { taskId, events: streamEvents(res.body) };
  }

  const id = encodeURIComponent;
  return {
    submit: (body, signal) => json({ method: 'POST', path: '/v1/tasks', body, signal }, [202]),
    submitStream: (body, signal) => eventStream({ method: 'POST', path: '/v1/tasks', body, signal }, body.task_id),
    stream: (taskId, o = {}) =>
      eventStream(
        { method: 'GET', path: `/v1/tasks/${id(taskId)}/stream`, signal: o.signal, headers: o.lastEventId ? { 'last-event-id': String(o.lastEventId) } : {} },
        taskId,
      ),
    status: (taskId) => json({ method: 'GET', path: `/v1/tasks/${id(taskId)}` }, [200]),
    cancel: (taskId) => json({ method: 'POST', path: `/v1/tasks/${id(taskId)}/cancel` }, [200]),
    getSession: (sessionId) => json({ method: 'GET', path: `/v1/sessions/${id(sessionId)}` }, [200]),
    deleteSession: (sessionId) => json({ method: 'DELETE', path: `/v1/sessions/${id(sessionId)}` }, [204]),
    listPools: async () => (await json<{ pools: PoolSummary[] }>({ method: 'GET', path: '/v1/pools' }, [200])).pools,
    listModels: () => json({ method: 'GET', path: '/v1/models' }, [200]),
    getPool: (poolId) => json({ method: 'GET', path: `/v1/pools/${id(poolId)}` }, [200]),
    drainPool: (poolId, deadlineMs) => json({ method: 'POST', path: `/v1/pools/${id(poolId)}/drain`, body: { deadline_ms: deadlineMs } }, [202]),
    reloadPool: (poolId) => json({ method: 'POST', path: `/v1/pools/${id(poolId)}/reload` }, [200]),
    reloadConfig: () => json({ method: 'POST', path: '/v1/config/reload' }, [200]),
    auditVerify: () => json({ method: 'POST', path: '/v1/audit/verify' }, [200]),
    auditHead: () => json({ method: 'GET', path: '/v1/audit/head' }, [200]),
    listTenants: async () => (await json<{ tenants: Tenant[] }>({ method: 'GET', path: '/v1/admin/tenants' }, [200])).tenants,
    createTenant: (body) => json({ method: 'POST', path: '/v1/admin/tenants', body }, [201]),
    getTenant: (tenantId) => json({ method: 'GET', path: `/v1/admin/tenants/${id(tenantId)}` }, [200]),
    updateTenant: (tenantId, body) => json({ method: 'PATCH', path: `/v1/admin/tenants/${id(tenantId)}`, body }, [200]),
    listKeys: async (tenantId) => (await json<{ keys: ApiKey[] }>({ method: 'GET', path: `/v1/admin/keys${tenantId === undefined ? '' : `?tenant_id=${id(tenantId)}`}` }, [200])).keys,
    createKey: (body) => json({ method: 'POST', path: '/v1/admin/keys', body }, [201]),
    getKey: (keyId) => json({ method: 'GET', path: `/v1/admin/keys/${id(keyId)}` }, [200]),
    updateKey: (keyId, body) => json({ method: 'PATCH', path: `/v1/admin/keys/${id(keyId)}`, body }, [200]),
    revokeKey: (keyId) => json({ method: 'DELETE', path: `/v1/admin/keys/${id(keyId)}` }, [200]),
  };
}
