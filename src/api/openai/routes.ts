// OpenAI's front doors (issue 11): POST /v1/chat/completions, POST /v1/completions and
// GET /v1/models, over the same task service as /v1/tasks. Thin: the codecs decode and render,
// the task service admits, the event log is the only source of what is written.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AnswerOutcome } from '../../core/chat/answer.ts';
import { CANCELED_OUTPUT_ERROR } from '../../core/chat/output-event.ts';
import type { OrchError } from '../../core/errors.ts';
import { fail, ok, orchError, type Result } from '../../core/errors.ts';
import type { LifecycleObserver } from '../../core/observer.ts';
import type { Task, TaskSubmission } from '../../orchestration/task.ts';
import type { StreamedTask } from '../../orchestration/streamed-task.ts';
import type { ModelCatalog } from '../../orchestration/model-catalog.ts';
import type { TaskDesk } from '../../orchestration/streamed-task.ts';
import type { PoolManager } from '../../pool/pool-manager.ts';
import { chatSubmission } from '../dialects/chat-task.ts';
import { answerOf, streamInDialect, type FrameWriter } from '../dialects/task-output.ts';
import { ownerOf } from '../auth.ts';
import { sendError } from '../errors.ts';
import { refusalRecorder } from '../dialects/refusal.ts';
import { operation, type OperationId } from '../operation.ts';
import { stopOf } from '../stop-list.ts';
import { OpenAiCompletionFrames } from './completion-frames.ts';
import { OpenAiChatFrames } from './frames.ts';
import { decodeOpenAiChatRequest, type OpenAiChatRequest } from './request.ts';
import { openAiChatCompletion, openAiTextCompletion } from './response.ts';
import { modelList } from './models.ts';

export interface OpenAiRoutesDeps {
  tasks: TaskDesk;
  pools: PoolManager<Task>;
  catalog: ModelCatalog;
  observer: LifecycleObserver;
  heartbeatMs: number;
  defaultMaxTokens: number;
}

/** OpenAI's legacy completion body, after schema validation. */
interface OpenAiCompletionRequest {
  model: string;
  prompt: string;
  max_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  user?: string;
  n?: number | null;
  echo?: boolean | null;
  suffix?: string | null;
  best_of?: number | null;
  logprobs?: number | null;
}

const KEEPALIVE = ': keep-alive\n\n';
const given = (v: unknown): boolean => v !== undefined && v !== null;
const route = (id: OperationId) => {
  const op = operation(id, 'data');
  return { ...op, config: { ...op.config, dialect: 'openai' as const } };
};

export async function openAiRoutes(app: FastifyInstance, deps: OpenAiRoutesDeps): Promise<void> {
  const { tasks } = deps;
  const refuse = refusalRecorder(deps.observer);

  app.route<{ Body: OpenAiChatRequest }>({
    ...route('createChatCompletion'),
    handler: async (req, reply) => {
      const caps = tasks.chatCapabilities(req.body.model);
      if (!caps.ok) return refuse(req, reply, caps.error);
      const decoded = decodeOpenAiChatRequest(req.body, caps.value, { defaultMaxTokens: deps.defaultMaxTokens });
      if (!decoded.ok) return refuse(req, reply, decoded.error);
      const chat = decoded.value;
      return serve(req, reply, chatSubmission(chat), {
        stream: chat.stream,
        frames: (task, created) => {
          const frames = new OpenAiChatFrames({ id: `chatcmpl-${task.id}`, model: chat.model, created, includeUsage: chat.includeUsage });
          return { start: () => frames.start(), write: (e) => frames.write(e), heartbeat: () => KEEPALIVE };
        },
        body: (task, created, answer) => openAiChatCompletion({ id: `chatcmpl-${task.id}`, model: chat.model, created }, answer),
      });
    },
  });

  app.route<{ Body: OpenAiCompletionRequest }>({
    ...route('createCompletion'),
    handler: async (req, reply) => {
      const decoded = decodeCompletion(req.body, deps.defaultMaxTokens);
      if (!decoded.ok) return refuse(req, reply, decoded.error);
      const { submission, stream, includeUsage } = decoded.value;
      return serve(req, reply, submission, {
        stream,
        frames: (task, created) => {
          const frames = new OpenAiCompletionFrames({ id: `cmpl-${task.id}`, model: submission.model, created, includeUsage });
          return { start: () => '', write: (e) => frames.write(e), heartbeat: () => KEEPALIVE };
        },
        body: (task, created, answer) => openAiTextCompletion({ id: `cmpl-${task.id}`, model: submission.model, created }, answer),
      });
    },
  });

  app.route({
    ...route('listModels'),
    handler: async (_req, reply) => reply.send(modelList(deps.pools.list(), await deps.catalog.list())),
  });

  interface Rendering {
    stream: boolean;
    frames: (task: StreamedTask, created: number) => FrameWriter;
    body: (task: StreamedTask, created: number, answer: Extract<AnswerOutcome, { status: 'complete' }>['answer']) => unknown;
  }

  async function serve(req: FastifyRequest, reply: FastifyReply, submission: TaskSubmission, how: Rendering) {
    const outcome = await tasks.submit(submission, String(req.id), ownerOf(req));
    if (!outcome.ok) return sendError(reply, outcome.error);
    const { task } = outcome.value;
    const created = Math.floor(task.createdAt / 1000);
    const cancel = () => void tasks.cancel(task.id, 'client_disconnect');
    if (how.stream) {
      reply.hijack();
      streamInDialect(reply.raw, task, how.frames(task, created), { heartbeatMs: deps.heartbeatMs, correlationId: String(req.id), observer: deps.observer, cancel });
      return reply;
    }
    const answer = await answerOf(task, reply.raw, cancel);
    reply.header('x-task-id', task.id);
    if (answer.status === 'complete') return reply.send(how.body(task, created, answer.answer));
    return sendError(reply, answer.status === 'failed' ? answer.error : CANCELED_OUTPUT_ERROR);
  }
}

/** The legacy completion body → a plain task (no chat): refusals name the parameter. */
function decodeCompletion(body: OpenAiCompletionRequest, defaultMaxTokens: number): Result<{ submission: TaskSubmission; stream: boolean; includeUsage: boolean }> {
  const refuse = (field: string, why: string): Result<never> => fail(orchError('INVALID_PARAMS', `${field} ${why}`, { field }) as OrchError);
  if (given(body.n) && body.n !== 1) return refuse('n', 'must be 1: one request is one task with one answer');
  if (body.echo === true) return refuse('echo', 'is not supported by the gateway');
  if (given(body.suffix)) return refuse('suffix', 'is not supported by the gateway');
  if (given(body.best_of) && body.best_of !== 1) return refuse('best_of', 'must be 1');
  if (given(body.logprobs)) return refuse('logprobs', 'is not available on this model');
  const known = new Set(['model', 'prompt', 'max_tokens', 'temperature', 'top_p', 'seed', 'stop', 'stream', 'stream_options', 'user', 'n', 'echo', 'suffix', 'best_of', 'logprobs']);
  const unknown = Object.keys(body).find((k) => !known.has(k));
  if (unknown !== undefined) return refuse(unknown, 'is not a parameter the gateway supports');
  const stream = body.stream === true;
  if (given(body.stream_options) && !stream) return refuse('stream_options', 'is only allowed with stream: true');
  const stop = stopOf(body.stop);
  if (!stop.ok) return stop;
  return ok({
    submission: {
      model: body.model,
      prompt: body.prompt,
      max_tokens: body.max_tokens ?? defaultMaxTokens,
      ...(typeof body.temperature === 'number' ? { temperature: body.temperature } : {}),
      ...(typeof body.top_p === 'number' ? { top_p: body.top_p } : {}),
      ...(typeof body.seed === 'number' ? { seed: body.seed } : {}),
      ...(stop.value.length > 0 ? { stop: stop.value } : {}),
    },
    stream,
    includeUsage: stream && body.stream_options?.include_usage === true,
  });
}
