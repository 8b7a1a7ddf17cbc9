// Data-plane task routes: submit (202, or the stream itself with Accept: text/event-stream),
// status, stream with resume, cancel. Thin: all decisions live in the task service.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { orchError } from '../../core/errors.ts';
import type { LifecycleObserver } from '../../core/observer.ts';
import type { TaskRequest } from '../../orchestration/task.ts';
import type { TaskService } from '../../orchestration/task-service.ts';
import { sendError } from '../errors.ts';
import { operation } from '../operation.ts';
import { writeTaskStream } from '../sse-writer.ts';

export interface TaskRoutesDeps {
  tasks: TaskService;
  observer: LifecycleObserver;
  heartbeatMs: number;
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

  app.route<{ Body: TaskRequest }>({
    ...operation('createTask', 'data'),
    handler: async (req, reply) => {
      const outcome = await tasks.submit(req.body, String(req.id));
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
      const task = tasks.get(req.params.task_id);
      if (!task) return sendError(reply, orchError('NOT_FOUND', `unknown task ${req.params.task_id}`, { field: 'task_id' }));
      return reply.send(task.status(task.pool.queue.position(task.id)));
    },
  });

  app.route<ById>({
    ...operation('streamTask', 'data'),
    handler: async (req, reply) => {
      const task = tasks.get(req.params.task_id);
      if (!task) return sendError(reply, orchError('NOT_FOUND', `unknown task ${req.params.task_id}`, { field: 'task_id' }));
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
      const result = tasks.cancel(req.params.task_id);
      if (!result) return sendError(reply, orchError('NOT_FOUND', `unknown task ${req.params.task_id}`, { field: 'task_id' }));
      return reply.send({ task_id: result.task.id, state: result.task.state, canceled: result.canceled });
    },
  });
}
