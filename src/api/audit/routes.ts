// Control-plane audit routes (ORCH-0704..0707): read and page the log, export it as NDJSON,
// verify the chain, read its head (for an external witness), place and remove legal holds. Thin: the store answers and the writer
// records hold changes with the caller's identity. With audit off every route is 404.

import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { exportNdjson, auditRowJson, type ExportFilter } from '../../audit/ndjson-export.ts';
import type { AuditKind } from '../../audit/records.ts';
import type { AuditRecorder } from '../../audit/recorder.ts';
import type { AuditHold, AuditStore } from '../../audit/store.ts';
import { ok, orchError, type Result } from '../../core/errors.ts';
import type { ControlFact } from '../../core/observer.ts';
import { actorOf } from '../auth.ts';
import { sendError } from '../errors.ts';
import { operation } from '../operation.ts';
import { holdScopeOf, type HoldRequestBody } from './hold-request.ts';
import { instantOf } from './instant.ts';

export interface AuditRoutesDeps {
  /** null when audit.backend is off. */
  store: AuditStore | null;
  writer: AuditRecorder;
}

interface FilterQuery {
  chain?: string;
  task_id?: string;
  session_id?: string;
  kind?: AuditKind;
  since?: string;
  until?: string;
  after_seq?: number;
  after_chain?: string;
}

/** The store's filter; a time bound the store cannot hold is a 400, not a store failure. */
function filterOf(query: FilterQuery): Result<ExportFilter> {
  const since = query.since === undefined ? undefined : instantOf(query.since, 'since');
  if (since && !since.ok) return since;
  const until = query.until === undefined ? undefined : instantOf(query.until, 'until');
  if (until && !until.ok) return until;
  return ok({
    ...(query.chain === undefined ? {} : { chain: query.chain }),
    ...(query.task_id === undefined ? {} : { task_id: query.task_id }),
    ...(query.session_id === undefined ? {} : { session_id: query.session_id }),
    ...(query.kind === undefined ? {} : { kind: query.kind }),
    ...(since === undefined ? {} : { since: since.value }),
    ...(until === undefined ? {} : { until: until.value }),
    ...(query.after_seq === undefined ? {} : { after_seq: query.after_seq }),
    ...(query.after_chain === undefined ? {} : { after_chain: query.after_chain }),
  });
}

function holdJson(hold: AuditHold): Record<string, string> {
  return {
    id: hold.id,
    ...(hold.task_id === null ? {} : { task_id: hold.task_id }),
    ...(hold.session_id === null ? {} : { session_id: hold.session_id }),
    ...(hold.from_at === null ? {} : { from: hold.from_at.toISOString() }),
    ...(hold.to_at === null ? {} : { to: hold.to_at.toISOString() }),
    reason: hold.reason,
    created_by: hold.created_by,
    created_at: hold.created_at.toISOString(),
  };
}

/** A store failure is the store's state, not a bug: 503 AUDIT_UNAVAILABLE, details only in the log. */
function unavailable(req: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  req.log.warn({ err: String(error) }, 'audit store request failed');
  return sendError(reply, orchError('AUDIT_UNAVAILABLE', 'the audit store cannot be reached'));
}

function holdFact(req: FastifyRequest, action: ControlFact['action'], target: string, detail: Record<string, unknown>): ControlFact {
  return { action, actor: actorOf(req), target, outcome: 'done', correlation_id: String(req.id), detail };
}

const AUDIT_OPERATIONS = ['listAudit', 'exportAudit', 'verifyAudit', 'getAuditHead', 'listAuditHolds', 'createAuditHold', 'deleteAuditHold'] as const;

export async function auditRoutes(app: FastifyInstance, deps: AuditRoutesDeps): Promise<void> {
  const { store, writer } = deps;
  if (store === null) {
    for (const id of AUDIT_OPERATIONS) {
      app.route({ ...operation(id, 'control'), handler: async (_req, reply) => sendError(reply, orchError('NOT_FOUND', 'audit is off (audit.backend: off)')) });
    }
    return;
  }
  readRoutes(app, store);
  holdRoutes(app, store, writer);
}

function readRoutes(app: FastifyInstance, store: AuditStore): void {
  app.route<{ Querystring: FilterQuery & { limit: number } }>({
    ...operation('listAudit', 'control'),
    handler: async (req, reply) => {
      const { limit } = req.query;
      const filter = filterOf(req.query);
      if (!filter.ok) return sendError(reply, filter.error);
      try {
        const rows = await store.query({ ...filter.value, limit });
        const last = rows.at(-1);
        const more = rows.length === limit && last !== undefined ? { next_after_seq: last.seq, next_after_chain: last.chain } : {};
        return { rows: rows.map(auditRowJson), ...more };
      } catch (error) {
        return unavailable(req, reply, error);
      }
    },
  });

  app.route<{ Querystring: FilterQuery }>({
    ...operation('exportAudit', 'control'),
    handler: async (req, reply) => {
      const filter = filterOf(req.query);
      if (!filter.ok) return sendError(reply, filter.error);
      // Probe first: once the stream has started, a failure can only cut the connection.
      try {
        await store.head();
      } catch (error) {
        return unavailable(req, reply, error);
      }
      const lines = Readable.from(exportNdjson(store, filter.value));
      lines.on('error', (error) => req.log.warn({ err: String(error) }, 'audit export aborted mid-stream'));
      return reply.type('application/x-ndjson').send(lines);
    },
  });

  app.route({
    ...operation('getAuditHead', 'control'),
    handler: async (req, reply) => {
      try {
        const head = await store.head();
        return { chain: store.chain, head_seq: head.seq, head_hash: head.hash };
      } catch (error) {
        return unavailable(req, reply, error);
      }
    },
  });

  app.route({
    ...operation('verifyAudit', 'control'),
    handler: async (req, reply) => {
      try {
        return await store.verify();
      } catch (error) {
        return unavailable(req, reply, error);
      }
    },
  });

}

function holdRoutes(app: FastifyInstance, store: AuditStore, writer: AuditRecorder): void {
  app.route({
    ...operation('listAuditHolds', 'control'),
    handler: async (req, reply) => {
      try {
        return { holds: (await store.listHolds()).map(holdJson) };
      } catch (error) {
        return unavailable(req, reply, error);
      }
    },
  });

  app.route<{ Body: HoldRequestBody }>({
    ...operation('createAuditHold', 'control'),
    handler: async (req, reply) => {
      const scope = holdScopeOf(req.body);
      if (!scope.ok) return sendError(reply, scope.error);
      let hold: AuditHold;
      try {
        hold = await store.addHold({ ...scope.value, reason: req.body.reason, created_by: actorOf(req) });
      } catch (error) {
        return unavailable(req, reply, error);
      }
      const json = holdJson(hold);
      writer.control?.(holdFact(req, 'hold_create', hold.id, json));
      return reply.code(201).send(json);
    },
  });

  app.route<{ Params: { hold_id: string } }>({
    ...operation('deleteAuditHold', 'control'),
    handler: async (req, reply) => {
      const { hold_id } = req.params;
      let removed: boolean;
      try {
        removed = await store.removeHold(hold_id);
      } catch (error) {
        return unavailable(req, reply, error);
      }
      if (!removed) return sendError(reply, orchError('NOT_FOUND', `no legal hold ${hold_id}`, { field: 'hold_id' }));
      writer.control?.(holdFact(req, 'hold_delete', hold_id, {}));
      return reply.code(204).send();
    },
  });
}
