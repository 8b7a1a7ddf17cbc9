// Anthropic's front door (issue 11): POST /v1/messages over the same task service as
// /v1/tasks. The key may come as `x-api-key` (src/api/auth.ts reads it on this dialect only).

import type { FastifyInstance } from 'fastify';
import { CANCELED_OUTPUT_ERROR } from '../../core/chat/output-event.ts';
import type { LifecycleObserver } from '../../core/observer.ts';
import type { TaskDesk } from '../../orchestration/streamed-task.ts';
import { chatSubmission } from '../dialects/chat-task.ts';
import { answerOf, streamInDialect } from '../dialects/task-output.ts';
import { ownerOf } from '../auth.ts';
import { sendError } from '../errors.ts';
import { refusalRecorder } from '../dialects/refusal.ts';
import { operation } from '../operation.ts';
import { AnthropicMessageFrames } from './frames.ts';
import { decodeAnthropicRequest, type AnthropicMessagesRequest } from './request.ts';
import { anthropicMessage } from './response.ts';

export interface AnthropicRoutesDeps {
  tasks: TaskDesk;
  observer: LifecycleObserver;
  heartbeatMs: number;
}

export async function anthropicRoutes(app: FastifyInstance, deps: AnthropicRoutesDeps): Promise<void> {
  const { tasks } = deps;
  const refuse = refusalRecorder(deps.observer);
  const op = operation('createMessage', 'data');

  app.route<{ Body: AnthropicMessagesRequest }>({
    ...op,
    config: { ...op.config, dialect: 'anthropic' },
    handler: async (req, reply) => {
      const caps = tasks.chatCapabilities(req.body.model);
      if (!caps.ok) return refuse(req, reply, caps.error);
      const decoded = decodeAnthropicRequest(req.body, caps.value);
      if (!decoded.ok) return refuse(req, reply, decoded.error);
      const chat = decoded.value;
      const outcome = await tasks.submit(chatSubmission(chat), String(req.id), ownerOf(req));
      if (!outcome.ok) return sendError(reply, outcome.error);
      const { task } = outcome.value;
      const id = `msg_${task.id.replaceAll('-', '')}`;
      const cancel = () => void tasks.cancel(task.id, 'client_disconnect');
      if (chat.stream) {
        const frames = new AnthropicMessageFrames({ id, model: chat.model, inputTokens: task.usage.promptTokens });
        reply.hijack();
        streamInDialect(reply.raw, task, { start: () => frames.start(), write: (e) => frames.write(e), heartbeat: () => frames.ping() }, {
          heartbeatMs: deps.heartbeatMs,
          correlationId: String(req.id),
          observer: deps.observer,
          cancel,
        });
        return reply;
      }
      const answer = await answerOf(task, reply.raw, cancel);
      reply.header('x-task-id', task.id);
      if (answer.status !== 'complete') return sendError(reply, answer.status === 'failed' ? answer.error : CANCELED_OUTPUT_ERROR);
      const body = anthropicMessage({ id, model: chat.model }, answer.answer);
      return body.ok ? reply.send(body.value) : sendError(reply, body.error);
    },
  });
}
