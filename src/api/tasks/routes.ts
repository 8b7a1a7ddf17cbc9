// Data-plane task routes: submit (202, or the stream itself with Accept: text/event-stream),
// status, stream with resume, cancel. Thin: all decisions live in the task service. A status
// for a task no longer in memory comes from the audit (`history`); its stream is 404.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { orchError } from '../../core/errors.ts';
import type { LifecycleObserver } from '../../core/observer.ts';
import type { components } from '../../generated/api-types.ts';
import type { StreamedTask, TaskDesk } from '../../orchestration/streamed-task.ts';
import type { TaskRequest } from '../../orchestration/task.ts';
import { mayAccess } from '../../core/tenancy/principal.ts';
import { ownerOf, principalOf } from '../auth.ts';
import { sendError } from '../errors.ts';
import { operation } from '../operation.ts';
import { writeTaskStream } from '../sse-writer.ts';

export interface TaskRoutesDeps {
  tasks: TaskDesk;
  observer: LifecycleObserver;
  heartbeatMs: number;
  /**
   * The last known status of a task that is not in memory, from the audit log (audit/task-history.ts);
   * undefined when the audit never admitted it. Absent when audit is off.
   */
  history?: (taskId: string) => Promise<{ status: components['schemas']['TaskStatus']; tenant: string } | undefined>;
}

type ById = { Params: { task_id: string } };

function wantsStream(req: FastifyRequest): boolean {
  const accept = req.headers.accept;
  return typeof accept === 'string' && accept.includes('text/event-stream');
}

/** Last-Event-ID must be a non-negative integer; anything else is a typed 400. */
function lastEventId(req: FastifyRequest): number | undefined | null {
  const raw = req.headers['last-event-id'];
  if (raw === undefined || raw === '') return 0;
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw)) return null;
  return Number(raw);
}

export async function taskRoutes(app: FastifyInstance, deps: TaskRoutesDeps): Promise<void> {
  const { tasks } = deps;
  /** A task the caller may see: its own tenant's, or any with control/audit scope; else as unknown. */
  const visible = (req: FastifyRequest, id: string) => {
    const task = tasks.get(id);
    return task && mayAccess(principalOf(req), task.tenant) ? task : undefined;
  };

  app.route<{ Body: TaskRequest }>({
    ...operation('createTask', 'data'),
    handler: async (req, reply) => {
      const outcome = await tasks.submit(req.body, String(req.id), ownerOf(req));
      if (!outcome.ok) return sendError(reply, outcome.error);
      const { task, answer } = outcome.value;
      if (wantsStream(req)) {
        reply.hijack();
        writeTaskStream(reply.raw, task, 0, { heartbeatMs: deps.heartbeatMs, correlationId: String(req.id), observer: deps.observer });
        return reply;
      }
      return reply.code(202).header('location', answer.streams.status).send(answer);
    },
  });

  app.route<ById>({
    ...operation('getTask', 'data'),
    handler: async (req, reply) => {
      const task = visible(req, req.params.task_id);
      if (task) return reply.send(task.status(task.pool.queue.position(task.id)));
      // Another tenant's task in memory is unknown here, and its audit record too.
      if (tasks.get(req.params.task_id)) return sendError(reply, orchError('NOT_FOUND', `unknown task ${req.params.task_id}`, { field: 'task_id' }));
      if (tasks.remote) {
        const found = await tasks.remote.locate(req.params.task_id);
        if (!found.ok) return sendError(reply, found.error);
        if (found.value && mayAccess(principalOf(req), found.value.tenant)) {
          const status = await found.value.status();
          return status.ok ? reply.send(status.value) : sendError(reply, status.error);
        }
      }
      let recorded: { status: components['schemas']['TaskStatus']; tenant: string } | undefined;
      try {
        recorded = await deps.history?.(req.params.task_id);
      } catch (error) {
        req.log.warn({ err: String(error) }, 'task status from the audit log failed');
        return sendError(reply, orchError('AUDIT_UNAVAILABLE', 'the task is not in memory and the audit store cannot be read', { retry_after_ms: 1_000 }));
      }
      if (recorded === undefined || !mayAccess(principalOf(req), recorded.tenant)) return sendError(reply, orchError('NOT_FOUND', `unknown task ${req.params.task_id}`, { field: 'task_id' }));
      return reply.send(recorded.status);
    },
  });

  app.route<ById>({
    ...operation('streamTask', 'data'),
    handler: async (req, reply) => {
      let task: StreamedTask | undefined = visible(req, req.params.task_id);
      if (!task && tasks.remote && !tasks.get(req.params.task_id)) {
        const found = await tasks.remote.locate(req.params.task_id);
        if (!found.ok) return sendError(reply, found.error);
        if (found.value && mayAccess(principalOf(req), found.value.tenant)) task = found.value;
      }
      // A task known only to the audit has no event log left to replay: 404, and its status says how it ended.
      if (!task) return sendError(reply, orchError('NOT_FOUND', `unknown task ${req.params.task_id} (no event log; GET /v1/tasks/${req.params.task_id} answers from the audit when it was admitted)`, { field: 'task_id' }));
      const after = lastEventId(req);
      if (after === null) return sendError(reply, orchError('INVALID_PARAMS', 'Last-Event-ID must be a non-negative integer', { field: 'last-event-id' }));
      reply.hijack();
      writeTaskStream(reply.raw, task, after ?? 0, { heartbeatMs: deps.heartbeatMs, correlationId: String(req.id), observer: deps.observer });
      return reply;
    },
  });

  app.route<ById>({
    ...operation('cancelTask', 'data'),
    handler: async (req, reply) => {
      const result = visible(req, req.params.task_id) ? tasks.cancel(req.params.task_id) : undefined;
      if (!result && tasks.remote && !tasks.get(req.params.task_id)) {
        const found = await tasks.remote.locate(req.params.task_id);
        if (!found.ok) return sendError(reply, found.error);
        if (found.value && mayAccess(principalOf(req), found.value.tenant)) {
          const canceled = await tasks.remote.cancel(req.params.task_id, 'client');
          if (!canceled.ok) return sendError(reply, canceled.error);
          if (canceled.value) return reply.send(canceled.value);
        }
      }
      if (!result) return sendError(reply, orchError('NOT_FOUND', `unknown task ${req.params.task_id}`, { field: 'task_id' }));
      return reply.send({ task_id: result.task.id, state: result.task.state, canceled: result.canceled });
    },
  });
}
