// Auth and scope (ARCHITECTURE §3 step 2, ORCH-1200/1201): the bearer token (or the Anthropic
// x-api-key) resolves through the tenant directory to a principal — tenant, key id, scopes —
// before the body is read; each operation needs one scope (scopes.ts). A scope that no static
// token and no live key grants stays open, as the default tenant. The actor written to the
// audit trail is the key id (`key:<id>`) or a static token's fingerprint, never the credential.

import type { FastifyContextConfig, FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import { orchError } from '../core/errors.ts';
import { DEFAULT_TENANT, SCOPES, type Principal, type Scope } from '../core/tenancy/principal.ts';
import type { TenantDirectory } from '../tenancy/directory.ts';
import { sendError } from './errors.ts';
import type { OperationId } from './operation.ts';
import { OPERATION_SCOPES } from './scopes.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const ANONYMOUS: Principal = { tenant: DEFAULT_TENANT, keyId: 'anonymous', scopes: new Set(SCOPES) };

/** The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive (RFC 9110 §11.1). */
export function bearerToken(header: string | undefined): string {
  const match = typeof header === 'string' ? /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
  return match?.[1] ?? '';
}

/** The scope a route needs, from its config: a property of the route, worked out once as it is added. */
function scopeOf(config: FastifyContextConfig | undefined): Scope | 'public' {
  const plane = config?.plane ?? 'public';
  if (plane === 'public') return 'public';
  const id = config?.operationId;
  const scope = id !== undefined && Object.hasOwn(OPERATION_SCOPES, id) ? OPERATION_SCOPES[id as OperationId] : undefined;
  return scope ?? (plane === 'data' ? 'tasks' : 'control');
}

/**
 * Adds the check as the first route-level `onRequest` hook of every non-public route (issue 14:
 * no per-request reading of the route's options on the 429 path). Routes added before this runs
 * are not covered, so it is installed before any route group is registered.
 */
export function installAuth(app: FastifyInstance, directory: TenantDirectory): void {
  app.addHook('onRoute', (route) => {
    const scope = scopeOf(route.config);
    if (scope === 'public') return;
    // Anthropic clients send the key as x-api-key (ORCH-1108); only on the Anthropic dialect.
    const apiKeyHeader = route.config?.dialect === 'anthropic';
    // A callback hook (no promise per request, issue 14); when it answers, it does not call done.
    const check: onRequestHookHandler = (req, reply, done) => {
      if (directory.isOpen(scope)) {
        req.principal = ANONYMOUS;
        return done();
      }
      const apiKey = apiKeyHeader ? req.headers['x-api-key'] : undefined;
      const token = bearerToken(req.headers.authorization) || (typeof apiKey === 'string' ? apiKey.trim() : '');
      if (!token) return void sendError(reply, orchError('UNAUTHORIZED', 'missing bearer token'));
      const found = directory.authenticate(token);
      // Unknown, revoked and expired keys get the same answer: nothing tells them apart.
      if (found.kind === 'unknown') return void sendError(reply, orchError('UNAUTHORIZED', 'invalid bearer token'));
      if (!found.principal.scopes.has(scope)) return void sendError(reply, orchError('FORBIDDEN', `this credential has no ${scope} scope`));
      req.principal = found.principal;
      done();
    };
    const own = route.onRequest;
    route.onRequest = own === undefined ? [check] : [check, ...(Array.isArray(own) ? own : [own])];
  });
}

/** The caller; routes behind auth always have one (public routes get the anonymous default). */
export function principalOf(req: FastifyRequest): Principal {
  return req.principal ?? ANONYMOUS;
}

/** The owner a task submitted by this caller gets. */
export function ownerOf(req: FastifyRequest): { tenant: string; keyId: string } {
  const p = principalOf(req);
  return { tenant: p.tenant, keyId: p.keyId };
}

/** The audit actor: the key id or token fingerprint, never the credential. */
export function actorOf(req: FastifyRequest): string {
  return principalOf(req).keyId;
}
