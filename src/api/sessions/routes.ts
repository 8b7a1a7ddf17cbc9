// Data-plane session routes: create with budgets, read, delete. Sessions hold metadata only.

import type { FastifyInstance } from 'fastify';
import { orchError } from '../../core/errors.ts';
import type { LifecycleObserver } from '../../core/observer.ts';
import type { IdSource } from '../../core/ports.ts';
import type { SessionBudgets } from '../../core/session/session-store.ts';
import type { SessionStore } from '../../core/state-ports.ts';
import { actorOf } from '../auth.ts';
import { sendError } from '../errors.ts';
import { operation } from '../operation.ts';

export interface SessionRoutesDeps {
  sessions: SessionStore;
  ids: IdSource;
  observer: LifecycleObserver;
}

type ById = { Params: { session_id: string } };
type CreateBody = { session_id?: string; ttl_ms?: number; max_turns?: number; budgets?: SessionBudgets };

export async function sessionRoutes(app: FastifyInstance, deps: SessionRoutesDeps): Promise<void> {
  const { sessions } = deps;

  app.route<{ Body: CreateBody | undefined }>({
    ...operation('createSession', 'data'),
    handler: async (req, reply) => {
      const body = req.body ?? {};
      const created = sessions.create({ ...body, session_id: body.session_id ?? deps.ids.uuid() });
      if (!created.ok) return sendError(reply, created.error);
      return reply.code(201).send(created.value);
    },
  });

  app.route<ById>({
    ...operation('getSession', 'data'),
    handler: async (req, reply) => {
      const view = sessions.view(req.params.session_id);
      return view.ok ? reply.send(view.value) : sendError(reply, view.error);
    },
  });

  app.route<ById>({
    ...operation('deleteSession', 'data'),
    handler: async (req, reply) => {
      const id = req.params.session_id;
      if (!sessions.delete(id)) return sendError(reply, orchError('NOT_FOUND', `unknown session ${id}`, { field: 'session_id' }));
      deps.observer.control?.({ action: 'session_delete', actor: actorOf(req), target: id, outcome: 'done', correlation_id: String(req.id) });
      return reply.code(204).send();
    },
  });
}
