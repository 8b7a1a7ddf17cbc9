// Canonical request → Ollama `POST /api/chat` body (ENGINES.md §5; ollama docs/api.md "Generate a
// chat completion", api/types.go ChatRequest). Pure. Instructions are system messages; images are
// bare base64 in `images`; tool calls carry `arguments` as a JSON object; a tool result is a
// `tool` message naming its tool. Ollama has no tool choice: forcing a call is a warning. The
// completion workload is one user message. `stream` is sent explicitly though it defaults to true.

import type { ChatMessage } from '../../core/chat/message.ts';
import type { ChatWarning } from '../../core/chat/warning.ts';
import { EngineError, type CanonicalRequest } from '../contract.ts';

export const OLLAMA_CHAT_PATH = '/api/chat';

export interface OllamaToolCall {
  function: { name: string; arguments: Record<string, unknown> };
}

export type OllamaMessage =
  | { role: 'system' | 'user'; content: string; images?: string[] }
  | { role: 'assistant'; content: string; tool_calls?: OllamaToolCall[] }
  | { role: 'tool'; content: string; tool_name: string };

export interface OllamaRuntimeOptions {
  num_predict: number;
  temperature?: number;
  top_p?: number;
  stop?: string[];
  seed?: number;
  num_ctx?: number;
}

export interface OllamaChatBody {
  model: string;
  messages: OllamaMessage[];
  stream: true;
  options: OllamaRuntimeOptions;
  tools?: { type: 'function'; function: { name: string; description?: string; parameters: Record<string, unknown> } }[];
  format?: 'json' | Record<string, unknown>;
  keep_alive?: string;
}

export interface OllamaEncodeSettings {
  numCtx?: number;
  keepAlive?: string;
}

export interface EncodedOllama {
  body: OllamaChatBody;
  warnings: ChatWarning[];
}

/** Throws EngineError INVALID_PARAMS naming the field when the conversation holds what Ollama cannot take. */
export function encodeOllama(req: CanonicalRequest, settings: OllamaEncodeSettings = {}): EncodedOllama {
  const warnings: ChatWarning[] = [];
  const options: OllamaRuntimeOptions = { num_predict: req.maxTokens };
  if (req.temperature !== undefined) options.temperature = req.temperature;
  if (req.topP !== undefined) options.top_p = req.topP;
  if (req.stop !== undefined && req.stop.length > 0) options.stop = req.stop;
  if (req.seed !== undefined) options.seed = req.seed;
  if (settings.numCtx !== undefined) options.num_ctx = settings.numCtx;
  const body: OllamaChatBody = { model: req.model, messages: [], stream: true, options };
  if (settings.keepAlive !== undefined) body.keep_alive = settings.keepAlive;
  const chat = req.chat;
  if (chat === undefined) {
    body.messages.push({ role: 'user', content: req.prompt });
    return { body, warnings };
  }
  const callNames = new Map<string, string>();
  chat.messages.forEach((m, i) => {
    if (m.role === 'assistant') for (const c of m.toolCalls) callNames.set(c.id, c.name);
    body.messages.push(toMessage(m, i, callNames, warnings));
  });
  // tool_choice "none" is honoured by not offering the tools at all.
  if (chat.tools.length > 0 && chat.toolChoice.type !== 'none') {
    body.tools = chat.tools.map((t) => ({
      type: 'function',
      function: { name: t.name, ...(t.description === undefined ? {} : { description: t.description }), parameters: t.parameters },
    }));
    if (chat.toolChoice.type !== 'auto') {
      warnings.push({ code: 'field_not_forwarded', message: 'Ollama cannot be told to call a tool; the model may answer in text', field: 'tool_choice' });
    }
    if (chat.parallelToolCalls === false) {
      warnings.push({ code: 'field_not_forwarded', message: 'Ollama cannot be told to call at most one tool per turn', field: 'parallel_tool_calls' });
    }
  }
  if (chat.responseFormat.type === 'json_object') body.format = 'json';
  if (chat.responseFormat.type === 'json_schema') body.format = chat.responseFormat.schema;
  return { body, warnings };
}

function toMessage(m: ChatMessage, i: number, callNames: ReadonlyMap<string, string>, warnings: ChatWarning[]): OllamaMessage {
  const text = (parts: readonly { type: string; text?: string }[]) => parts.map((p) => p.text ?? '').join('');
  switch (m.role) {
    case 'system':
      return { role: 'system', content: text(m.content) };
    case 'developer':
      warnings.push({ code: 'role_renamed', message: 'a developer message was sent to Ollama as a system message', field: `messages[${i}].role` });
      return { role: 'system', content: text(m.content) };
    case 'user': {
      const images: string[] = [];
      m.content.forEach((p, j) => {
        if (p.type !== 'image') return;
        if (p.source.kind === 'url') throw refuse(`messages[${i}].content[${j}]`, 'is an image URL, and Ollama takes images inline (base64) only');
        images.push(p.source.data);
      });
      return { role: 'user', content: text(m.content), ...(images.length === 0 ? {} : { images }) };
    }
    case 'assistant': {
      // The normalizer proved each call's arguments are the JSON text of an object.
      const calls = m.toolCalls.map((c): OllamaToolCall => ({ function: { name: c.name, arguments: JSON.parse(c.arguments) as Record<string, unknown> } }));
      return { role: 'assistant', content: text(m.content), ...(calls.length === 0 ? {} : { tool_calls: calls }) };
    }
    case 'tool': {
      const name = callNames.get(m.toolCallId);
      if (name === undefined) throw refuse(`messages[${i}].tool_call_id`, 'answers no earlier tool call');
      if (m.content.some((p) => p.type === 'image')) throw refuse(`messages[${i}].content`, 'holds an image, and Ollama tool results carry text only');
      if (m.isError) warnings.push({ code: 'field_not_forwarded', message: 'Ollama cannot be told that a tool result is an error', field: `messages[${i}].is_error` });
      return { role: 'tool', content: text(m.content), tool_name: name };
    }
  }
}

function refuse(field: string, why: string): EngineError {
  return new EngineError('INVALID_PARAMS', `${field} ${why}`);
}
