// A schema-validated Anthropic `POST /v1/messages` body → ValidChatRequest (issue 11).
// `max_tokens` is required by the dialect (the schema enforces it). Parameters the gateway
// cannot honour are refused up front naming the parameter; nothing is dropped silently.

import type { ValidChatRequest } from '../../core/chat/chat-request.ts';
import type { ChatCapabilities } from '../../core/chat/conversation.ts';
import { normalizeChat, type AnthropicChatInput } from '../../core/chat/normalize.ts';
import { fail, ok, orchError, type Result } from '../../core/errors.ts';
import { stopOf } from '../stop-list.ts';

export interface AnthropicMessagesRequest extends AnthropicChatInput {
  model: string;
  max_tokens: number;
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  top_k?: number;
  stream?: boolean;
  metadata?: { user_id?: string | null };
  thinking?: { type: string; budget_tokens?: number };
  mcp_servers?: unknown[];
  container?: unknown;
}

export function decodeAnthropicRequest(body: AnthropicMessagesRequest, caps: ChatCapabilities): Result<ValidChatRequest> {
  if (body.top_k !== undefined) return refuse('top_k', 'is not supported by the gateway yet');
  if (body.thinking !== undefined && body.thinking.type !== 'disabled') return refuse('thinking', 'is not supported by the gateway yet');
  if (body.mcp_servers !== undefined) return refuse('mcp_servers', 'is not supported: the gateway connects to no MCP servers');
  if (body.container !== undefined) return refuse('container', 'is not supported: the gateway runs no code containers');
  const stop = stopOf(body.stop_sequences, 'stop_sequences');
  if (!stop.ok) return stop;
  const conversation = normalizeChat({ dialect: 'anthropic', body }, caps);
  if (!conversation.ok) return conversation;
  const user = body.metadata?.user_id;
  return ok({
    model: body.model,
    maxTokens: body.max_tokens,
    conversation: conversation.value,
    stream: body.stream === true,
    // Anthropic streams always carry usage (message_start, message_delta).
    includeUsage: body.stream === true,
    ...(body.temperature === undefined ? {} : { temperature: body.temperature }),
    ...(body.top_p === undefined ? {} : { topP: body.top_p }),
    ...(stop.value.length > 0 ? { stop: stop.value } : {}),
    ...(typeof user === 'string' ? { user } : {}),
  });
}

function refuse<T>(field: string, why: string): Result<T> {
  return fail(orchError('INVALID_PARAMS', `${field} ${why}`, { field }));
}
