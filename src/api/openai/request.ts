// A schema-validated OpenAI `POST /v1/chat/completions` body → ValidChatRequest (issue 11).
// Parameters the gateway or the target cannot honour are refused up front, naming the
// parameter, before the conversation is normalized; nothing is dropped silently.
// `max_tokens` / `max_completion_tokens` may be omitted (OpenAI allows it): the configured
// default applies, as docs/chat.md says.

import type { ChatRequestLimits, ValidChatRequest } from '../../core/chat/chat-request.ts';
import type { ChatCapabilities } from '../../core/chat/conversation.ts';
import { normalizeChat, type OpenAiChatInput } from '../../core/chat/normalize.ts';
import { fail, ok, orchError, type Result } from '../../core/errors.ts';
import { stopOf } from '../stop-list.ts';

export interface OpenAiChatRequest extends OpenAiChatInput {
  model: string;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  user?: string;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  n?: number | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
  functions?: unknown[];
  function_call?: unknown;
  audio?: unknown;
  modalities?: string[] | null;
  prediction?: unknown;
  reasoning_effort?: string | null;
  web_search_options?: unknown;
  store?: boolean | null;
}

interface Unsupported {
  param: keyof OpenAiChatRequest;
  refused(body: OpenAiChatRequest, caps: ChatCapabilities): boolean;
  why: string;
}

const given = (v: unknown): boolean => v !== undefined && v !== null;

/** In the order they are checked; the first match is the answer. */
const UNSUPPORTED: Unsupported[] = [
  { param: 'n', refused: (b) => given(b.n) && b.n !== 1, why: 'must be 1: one request is one task with one answer' },
  { param: 'logprobs', refused: (b, c) => b.logprobs === true && !c.logprobs, why: 'is not available on this model' },
  { param: 'top_logprobs', refused: (b, c) => given(b.top_logprobs) && !c.logprobs, why: 'is not available on this model' },
  { param: 'presence_penalty', refused: (b) => given(b.presence_penalty) && b.presence_penalty !== 0, why: 'is not supported by the gateway yet' },
  { param: 'frequency_penalty', refused: (b) => given(b.frequency_penalty) && b.frequency_penalty !== 0, why: 'is not supported by the gateway yet' },
  { param: 'logit_bias', refused: (b) => given(b.logit_bias) && Object.keys(b.logit_bias ?? {}).length > 0, why: 'is not supported by the gateway yet' },
  { param: 'functions', refused: (b) => given(b.functions), why: 'is deprecated; use tools' },
  { param: 'function_call', refused: (b) => given(b.function_call), why: 'is deprecated; use tool_choice' },
  { param: 'audio', refused: (b) => given(b.audio), why: 'is not supported: the gateway answers in text' },
  { param: 'modalities', refused: (b) => given(b.modalities) && (b.modalities ?? []).some((m) => m !== 'text'), why: 'may only ask for text' },
  { param: 'prediction', refused: (b) => given(b.prediction), why: 'is not supported by the gateway yet' },
  { param: 'reasoning_effort', refused: (b) => given(b.reasoning_effort), why: 'is not supported by the gateway yet' },
  { param: 'web_search_options', refused: (b) => given(b.web_search_options), why: 'is not supported: the gateway has no web search' },
  { param: 'store', refused: (b) => b.store === true, why: 'is not supported: the gateway stores no completions for later retrieval' },
];

export function decodeOpenAiChatRequest(body: OpenAiChatRequest, caps: ChatCapabilities, limits: ChatRequestLimits): Result<ValidChatRequest> {
  for (const u of UNSUPPORTED) {
    if (u.refused(body, caps)) return refuse(u.param, u.why);
  }
  const stream = body.stream === true;
  if (given(body.stream_options) && !stream) return refuse('stream_options', 'is only allowed with stream: true');
  if (given(body.max_tokens) && given(body.max_completion_tokens) && body.max_tokens !== body.max_completion_tokens) {
    return refuse('max_completion_tokens', 'differs from max_tokens; give one of them');
  }
  const stop = stopOf(body.stop);
  if (!stop.ok) return stop;
  const conversation = normalizeChat({ dialect: 'openai', body }, caps);
  if (!conversation.ok) return conversation;
  return ok({
    model: body.model,
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? limits.defaultMaxTokens,
    conversation: conversation.value,
    stream,
    includeUsage: stream && body.stream_options?.include_usage === true,
    ...(typeof body.temperature === 'number' ? { temperature: body.temperature } : {}),
    ...(typeof body.top_p === 'number' ? { topP: body.top_p } : {}),
    ...(typeof body.seed === 'number' ? { seed: body.seed } : {}),
    ...(stop.value.length > 0 ? { stop: stop.value } : {}),
    ...(body.user === undefined ? {} : { user: body.user }),
  });
}

function refuse<T>(field: string, why: string): Result<T> {
  return fail(orchError('INVALID_PARAMS', `${field} ${why}`, { field }));
}
