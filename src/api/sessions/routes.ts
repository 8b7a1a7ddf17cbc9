// Data-plane session routes: create with budgets, read, delete. Sessions hold metadata only.
// A session belongs to the tenant that created it (ORCH-1205): another tenant's read and delete
// answer 404 as for an unknown id. Creation checks the tenant's session cap and TTL cap (ORCH-1213);
// with the redis backend the store checks the session cap again in the create's atomic step.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { fail, ok, orchError, type Result } from '../../core/errors.ts';
import type { LifecycleObserver } from '../../core/observer.ts';
import type { IdSource } from '../../core/ports.ts';
import type { SessionCreate, SessionView } from '../../core/session/session-record.ts';
import type { SessionBudgets } from '../../core/session/session-store.ts';
import { DEFAULT_TENANT, mayAccess } from '../../core/tenancy/principal.ts';
import { checkSessionQuota, sessionCapsOf, type QuotaStanding, type SessionCap } from '../../core/tenancy/quota.ts';
import { actorOf, ownerOf, principalOf } from '../auth.ts';
import { StateError, toOrchError } from '../../state/state-errors.ts';
import { sendError } from '../errors.ts';
import { operation } from '../operation.ts';

/**
 * What the routes use of a session store: the memory store (one process) answers at once, the
 * Redis one (state.backend redis, shared by the replicas) with promises.
 */
export interface SessionRoutesStore {
  /**
   * `quota`: the caller's session caps, for a store that counts its owners' sessions itself and
   * checks them in the create's own step (Redis); the memory store is checked by the route in
   * the same synchronous step as its create, and ignores them.
   */
  create(req: SessionCreate, quota?: { caps: readonly SessionCap[]; backoffMs: number }): Result<SessionView> | Promise<Result<SessionView>>;
  view(id: string): Result<SessionView> | Promise<Result<SessionView>>;
  ownerOf(id: string): string | undefined | Promise<string | undefined>;
  delete(id: string): boolean | Promise<boolean>;
}

export interface SessionRoutesDeps {
  sessions: SessionRoutesStore;
  ids: IdSource;
  observer: LifecycleObserver;
  /**
   * The caller's quota standing (this process's, or read from Redis with the redis backend) and
   * the TTL its sessions get by default; absent: no tenant limits.
   */
  quotas?: {
    standing(owner: { tenant: string; keyId: string }): QuotaStanding | Promise<QuotaStanding>;
    sessionCreate(owner: { tenant: string; keyId: string }): { owner: string; ttl_ms?: number };
  };
}

type ById = { Params: { session_id: string } };
/** The retry hint of a session-cap refusal with no session of the owner's to wait for. */
const CAP_BACKOFF_MS = 1_000;
type CreateBody = { session_id?: string; ttl_ms?: number; max_turns?: number; budgets?: SessionBudgets };

export async function sessionRoutes(app: FastifyInstance, deps: SessionRoutesDeps): Promise<void> {
  const { sessions } = deps;
  // The shared store unreachable (state.backend redis): 503 STATE_UNAVAILABLE with its retry
  // hint, as for a submission; every other error goes on to the server's handler.
  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof StateError) return sendError(reply, toOrchError(err));
    throw err;
  });
  /** The session id when the caller may see it; another tenant's session is as unknown. */
  const visible = async (req: FastifyRequest, id: string): Promise<Result<string>> => {
    const owner = (await sessions.ownerOf(id)) ?? DEFAULT_TENANT;
    if (mayAccess(principalOf(req), owner)) return ok(id);
    return fail(orchError('NOT_FOUND', `session ${id} not found`));
  };

  app.route<{ Body: CreateBody | undefined }>({
    ...operation('createSession', 'data'),
    handler: async (req, reply) => {
      const body = req.body ?? {};
      const owner = ownerOf(req);
      const rules = deps.quotas?.sessionCreate(owner) ?? { owner: owner.tenant };
      let caps: SessionCap[] = [];
      if (deps.quotas) {
        // No await for a standing read in memory: its check and the create stay one synchronous
        // step. A shared store's standing is a round trip; its create checks the caps again atomically.
        const read = deps.quotas.standing(owner);
        const standing = read instanceof Promise ? await read : read;
        const checked = checkSessionQuota(standing, body.ttl_ms, CAP_BACKOFF_MS);
        if (!checked.ok) return sendError(reply, checked.error);
        caps = sessionCapsOf(standing);
      }
      const ttl = body.ttl_ms ?? rules.ttl_ms;
      const create = { ...body, ...(ttl !== undefined ? { ttl_ms: ttl } : {}), owner: rules.owner, session_id: body.session_id ?? deps.ids.uuid() };
      const created = await sessions.create(create, { caps, backoffMs: CAP_BACKOFF_MS });
      if (!created.ok) return sendError(reply, created.error);
      return reply.code(201).send(created.value);
    },
  });

  app.route<ById>({
    ...operation('getSession', 'data'),
    handler: async (req, reply) => {
      const id = await visible(req, req.params.session_id);
      if (!id.ok) return sendError(reply, id.error);
      const view = await sessions.view(id.value);
      return view.ok ? reply.send(view.value) : sendError(reply, view.error);
    },
  });

  app.route<ById>({
    ...operation('deleteSession', 'data'),
    handler: async (req, reply) => {
      const id = req.params.session_id;
      if (!(await visible(req, id)).ok || !(await sessions.delete(id))) return sendError(reply, orchError('NOT_FOUND', `unknown session ${id}`, { field: 'session_id' }));
      deps.observer.control?.({ action: 'session_delete', actor: actorOf(req), tenant: principalOf(req).tenant, target: id, outcome: 'done', correlation_id: String(req.id) });
      return reply.code(204).send();
    },
  });
}
