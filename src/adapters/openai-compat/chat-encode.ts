// Canonical chat request → OpenAI-style `POST /v1/chat/completions` body, shared by the engines
// that serve that route (llama.cpp, vLLM, TGI's Messages API; ENGINES.md §1-§3) and the `openai`
// provider (OpenAI, OpenRouter, any OpenAI-compatible API; §6, §7). Pure. What the
// wire cannot say is reported as a warning, never dropped silently: `developer` is sent as
// `system` (engine chat templates know no developer role), a tool result's error flag is lost.

import type { ContentPart, TextPart } from '../../core/chat/content.ts';
import type { ChatMessage } from '../../core/chat/message.ts';
import type { ResponseFormat } from '../../core/chat/response-format.ts';
import type { ToolChoice } from '../../core/chat/tool-choice.ts';
import type { ChatWarning } from '../../core/chat/warning.ts';
import type { ChatCanonicalRequest } from '../contract.ts';

export const CHAT_COMPLETIONS_PATH = '/v1/chat/completions';

export type WirePart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string; detail?: 'auto' | 'low' | 'high' } };

export type WireMessage =
  | { role: 'system'; content: string | WirePart[] }
  | { role: 'user'; content: string | WirePart[]; name?: string }
  | { role: 'assistant'; content: string | null; tool_calls?: WireToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string | WirePart[] };

export interface WireToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ChatCompletionsBody {
  model: string;
  messages: WireMessage[];
  /** Exactly one of the two limits is sent (ChatEncodeOptions.maxTokensField). */
  max_tokens?: number;
  max_completion_tokens?: number;
  stream: true;
  stream_options: { include_usage: true };
  seed?: number;
  temperature?: number;
  top_p?: number;
  stop?: string[];
  tools?: { type: 'function'; function: { name: string; description?: string; parameters: Record<string, unknown>; strict?: boolean } }[];
  tool_choice?: 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };
  parallel_tool_calls?: boolean;
  response_format?: { type: 'json_object' } | { type: 'json_schema'; json_schema: { name: string; schema: Record<string, unknown>; description?: string; strict?: boolean } };
}

export interface EncodedChat {
  body: ChatCompletionsBody;
  warnings: ChatWarning[];
}

export interface ChatEncodeOptions {
  /**
   * The output limit's name: `max_tokens` (engines, OpenRouter, Together, Groq) or
   * `max_completion_tokens` (OpenAI's reasoning models refuse `max_tokens`).
   */
  maxTokensField?: 'max_tokens' | 'max_completion_tokens';
}

export function encodeChat(req: ChatCanonicalRequest, options: ChatEncodeOptions = {}): EncodedChat {
  const warnings: ChatWarning[] = [];
  const { chat } = req;
  const body: ChatCompletionsBody = {
    model: req.model,
    messages: chat.messages.map((m, i) => wireMessage(m, i, warnings)),
    ...(options.maxTokensField === 'max_completion_tokens' ? { max_completion_tokens: req.maxTokens } : { max_tokens: req.maxTokens }),
    stream: true,
    stream_options: { include_usage: true },
  };
  if (req.seed !== undefined) body.seed = req.seed;
  if (req.temperature !== undefined) body.temperature = req.temperature;
  if (req.topP !== undefined) body.top_p = req.topP;
  if (req.stop !== undefined && req.stop.length > 0) body.stop = req.stop;
  if (chat.tools.length > 0) {
    body.tools = chat.tools.map((t) => ({
      type: 'function',
      function: {
        name: t.name,
        parameters: t.parameters,
        ...(t.description === undefined ? {} : { description: t.description }),
        ...(t.strict === undefined ? {} : { strict: t.strict }),
      },
    }));
    body.tool_choice = wireToolChoice(chat.toolChoice);
    if (chat.parallelToolCalls !== undefined) body.parallel_tool_calls = chat.parallelToolCalls;
  }
  const format = wireResponseFormat(chat.responseFormat);
  if (format !== undefined) body.response_format = format;
  return { body, warnings };
}

function wireMessage(m: ChatMessage, i: number, warnings: ChatWarning[]): WireMessage {
  switch (m.role) {
    case 'system':
      return { role: 'system', content: wireContent(m.content) };
    case 'developer':
      warnings.push({ code: 'role_renamed', message: 'a developer message was sent to the engine as a system message', field: `messages[${i}].role` });
      return { role: 'system', content: wireContent(m.content) };
    case 'user':
      return { role: 'user', content: wireContent(m.content), ...(m.name === undefined ? {} : { name: m.name }) };
    case 'assistant': {
      const text = m.content.map((p) => p.text).join('');
      const calls = m.toolCalls.map((c): WireToolCall => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
      return { role: 'assistant', content: text.length === 0 && calls.length > 0 ? null : text, ...(calls.length === 0 ? {} : { tool_calls: calls }) };
    }
    case 'tool':
      if (m.isError) warnings.push({ code: 'field_not_forwarded', message: 'the engine cannot be told that a tool result is an error', field: `messages[${i}].is_error` });
      return { role: 'tool', tool_call_id: m.toolCallId, content: wireContent(m.content) };
  }
}

/** One text part as a plain string (what every engine accepts); anything else as parts. */
function wireContent(parts: readonly (ContentPart | TextPart)[]): string | WirePart[] {
  const only = parts[0];
  if (parts.length === 0) return '';
  if (parts.length === 1 && only?.type === 'text') return only.text;
  return parts.map((p): WirePart => {
    if (p.type === 'text') return { type: 'text', text: p.text };
    const url = p.source.kind === 'url' ? p.source.url : `data:${p.source.mediaType};base64,${p.source.data}`;
    return { type: 'image_url', image_url: { url, ...(p.detail === undefined ? {} : { detail: p.detail }) } };
  });
}

function wireToolChoice(choice: ToolChoice): NonNullable<ChatCompletionsBody['tool_choice']> {
  return choice.type === 'tool' ? { type: 'function', function: { name: choice.name } } : choice.type;
}

function wireResponseFormat(format: ResponseFormat): ChatCompletionsBody['response_format'] {
  switch (format.type) {
    case 'text':
      return undefined;
    case 'json_object':
      return { type: 'json_object' };
    case 'json_schema':
      return {
        type: 'json_schema',
        json_schema: {
          name: format.name,
          schema: format.schema,
          ...(format.description === undefined ? {} : { description: format.description }),
          ...(format.strict === undefined ? {} : { strict: format.strict }),
        },
      };
  }
}
