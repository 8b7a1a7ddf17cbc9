// Admin routes (scope `admin`, ORCH-1203): tenants and API keys — create, list, read with usage,
// change limits, revoke. Thin: the tenant directory decides and persists; every change is a
// control fact (audit row) naming the key id, never a key. A new key's secret is in exactly one
// answer: the 201 that creates it.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { orchError, type Result } from '../../core/errors.ts';
import type { ControlAction, LifecycleObserver } from '../../core/observer.ts';
import type { QuotaLimits } from '../../core/tenancy/limits.ts';
import type { Scope } from '../../core/tenancy/principal.ts';
import type { QuotaStanding } from '../../core/tenancy/quota.ts';
import type { components } from '../../generated/api-types.ts';
import type { KeyView, TenantDirectory } from '../../tenancy/directory.ts';
import type { TenantRecord } from '../../tenancy/store.ts';
import { StateError, toOrchError } from '../../state/state-errors.ts';
import { actorOf, principalOf } from '../auth.ts';
import { sendError } from '../errors.ts';
import { operation } from '../operation.ts';

type Schemas = components['schemas'];

export interface AdminRoutesDeps {
  directory: TenantDirectory;
  observer: LifecycleObserver;
  /**
   * A tenant's quota standing now (its own counters), for GET /v1/admin/tenants/{id}: this
   * process's, or the cluster's read from Redis with the redis backend.
   */
  standing: (tenant: string) => QuotaStanding | Promise<QuotaStanding>;
}

const iso = (d: Date) => d.toISOString();

function tenantJson(t: TenantRecord): Schemas['Tenant'] {
  return { id: t.id, weight: t.weight, limits: t.limits, created_at: iso(t.created_at), updated_at: iso(t.updated_at) };
}

function keyJson(k: KeyView): Schemas['ApiKey'] {
  return {
    id: k.id, tenant_id: k.tenant_id, ...(k.name === null ? {} : { name: k.name }), scopes: k.scopes, prefix: k.prefix, limits: k.limits,
    ...(k.expires_at === null ? {} : { expires_at: iso(k.expires_at) }),
    ...(k.revoked_at === null ? {} : { revoked_at: iso(k.revoked_at) }),
    created_at: iso(k.created_at), created_by: k.created_by,
  };
}

function usageJson(standing: QuotaStanding): Schemas['QuotaUsageView'][] {
  return standing.subjects.map(({ subject, usage: u }) => ({
    subject, window_start: iso(new Date(u.window.startMs)), requests: u.window.requests, tokens: u.window.tokens,
    in_flight: u.inFlight, queued: u.queued, sessions: u.sessions.count,
    ...(u.period ? { period: { start: iso(new Date(u.period.startMs)), end: iso(new Date(u.period.endMs)), tokens: u.period.tokens, cost: u.period.cost } } : {}),
  }));
}

/** A date-time the contract validated; Date cannot hold every RFC 3339 year, so it is checked again. */
function dateOf(value: string, field: string): Result<Date> {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? { ok: false, error: orchError('INVALID_PARAMS', `${field} is not a representable instant`, { field }) } : { ok: true, value: d };
}

type TenantBody = { id: string; weight?: number; limits?: QuotaLimits };
type KeyBody = { tenant_id: string; scopes: Scope[]; name?: string; expires_at?: string; limits?: QuotaLimits };
type KeyPatch = { name?: string | null; expires_at?: string | null; limits?: QuotaLimits };

export async function adminRoutes(app: FastifyInstance, deps: AdminRoutesDeps): Promise<void> {
  const { directory } = deps;
  // Redis unreachable while reading a standing (state.backend redis): 503 STATE_UNAVAILABLE with
  // its retry hint; every other error goes on to the server's handler.
  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof StateError) return sendError(reply, toOrchError(err));
    throw err;
  });
  const record = (req: FastifyRequest, action: ControlAction, target: string, detail?: Record<string, unknown>) =>
    deps.observer.control?.({ action, actor: actorOf(req), tenant: principalOf(req).tenant, target, outcome: 'done', correlation_id: String(req.id), ...(detail ? { detail } : {}) });

  app.route({
    ...operation('listTenants', 'control'),
    handler: async (_req, reply) => reply.send({ tenants: directory.listTenants().map(tenantJson) }),
  });

  app.route<{ Body: TenantBody }>({
    ...operation('createTenant', 'control'),
    handler: async (req, reply) => {
      const created = await directory.createTenant(req.body);
      if (!created.ok) return sendError(reply, created.error);
      record(req, 'tenant_create', created.value.id, { weight: created.value.weight, limits: created.value.limits });
      return reply.code(201).send(tenantJson(created.value));
    },
  });

  app.route<{ Params: { tenant_id: string } }>({
    ...operation('getTenant', 'control'),
    handler: async (req, reply) => {
      const tenant = directory.tenant(req.params.tenant_id);
      if (!tenant) return sendError(reply, orchError('NOT_FOUND', `unknown tenant ${req.params.tenant_id}`, { field: 'tenant_id' }));
      const standing = await deps.standing(tenant.id);
      return reply.send({ tenant: tenantJson(tenant), keys: directory.listKeys(tenant.id).map(keyJson), usage: usageJson(standing) });
    },
  });

  app.route<{ Params: { tenant_id: string }; Body: { weight?: number; limits?: QuotaLimits } }>({
    ...operation('updateTenant', 'control'),
    handler: async (req, reply) => {
      const updated = await directory.updateTenant(req.params.tenant_id, req.body);
      if (!updated.ok) return sendError(reply, updated.error);
      record(req, 'tenant_update', updated.value.id, { ...req.body });
      return reply.send(tenantJson(updated.value));
    },
  });

  app.route<{ Querystring: { tenant_id?: string } }>({
    ...operation('listKeys', 'control'),
    handler: async (req, reply) => reply.send({ keys: directory.listKeys(req.query.tenant_id).map(keyJson) }),
  });

  app.route<{ Body: KeyBody }>({
    ...operation('createKey', 'control'),
    handler: async (req, reply) => {
      const { expires_at, ...rest } = req.body;
      const expiry = expires_at === undefined ? undefined : dateOf(expires_at, 'expires_at');
      if (expiry && !expiry.ok) return sendError(reply, expiry.error);
      const created = await directory.createKey({ ...rest, ...(expiry ? { expires_at: expiry.value } : {}) }, actorOf(req));
      if (!created.ok) return sendError(reply, created.error);
      const { key, secret } = created.value;
      record(req, 'key_create', `key:${key.id}`, { tenant_id: key.tenant_id, scopes: key.scopes, prefix: key.prefix });
      return reply.code(201).header('cache-control', 'no-store').send({ key: keyJson(key), secret });
    },
  });

  app.route<{ Params: { key_id: string } }>({
    ...operation('getKey', 'control'),
    handler: async (req, reply) => {
      const key = directory.getKey(req.params.key_id);
      return key ? reply.send(keyJson(key)) : sendError(reply, orchError('NOT_FOUND', `unknown key ${req.params.key_id}`, { field: 'key_id' }));
    },
  });

  app.route<{ Params: { key_id: string }; Body: KeyPatch }>({
    ...operation('updateKey', 'control'),
    handler: async (req, reply) => {
      const { expires_at, ...rest } = req.body;
      const expiry = typeof expires_at === 'string' ? dateOf(expires_at, 'expires_at') : undefined;
      if (expiry && !expiry.ok) return sendError(reply, expiry.error);
      const patch = { ...rest, ...(expires_at === null ? { expires_at: null } : expiry ? { expires_at: expiry.value } : {}) };
      const updated = await directory.updateKey(req.params.key_id, patch);
      if (!updated.ok) return sendError(reply, updated.error);
      record(req, 'key_update', `key:${updated.value.id}`, { ...req.body });
      return reply.send(keyJson(updated.value));
    },
  });

  app.route<{ Params: { key_id: string } }>({
    ...operation('revokeKey', 'control'),
    handler: async (req, reply) => {
      const revoked = await directory.revokeKey(req.params.key_id);
      if (!revoked.ok) return sendError(reply, revoked.error);
      record(req, 'key_revoke', `key:${revoked.value.id}`);
      return reply.send(keyJson(revoked.value));
    },
  });
}
