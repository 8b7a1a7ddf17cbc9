// OpenAI Chat Completions messages, tools, tool choice and response format → the canonical
// conversation (issue 11). The input has passed the route's JSON schema (types, required
// fields); this adds the rules a schema cannot say. Every refusal names the wire field.
// System and developer messages must lead: engine chat templates reject them mid-conversation.

import { ok, type Result } from '../errors.ts';
import type { ContentPart, TextPart } from './content.ts';
import type { ChatCapabilities, ValidConversation } from './conversation.ts';
import type { AssistantMessage, ChatMessage } from './message.ts';
import type { ResponseFormat } from './response-format.ts';
import {
  checkArguments, checkResponseFormat, checkSchema, checkToolName, checkVision, imageFromUrl, invalid,
} from './shared-rules.ts';
import type { ToolCall, ToolDefinition } from './tool.ts';
import type { ToolChoice } from './tool-choice.ts';
import { ToolLedger } from './tool-ledger.ts';

export interface OpenAiWirePart {
  type: string;
  text?: string;
  image_url?: { url: string; detail?: 'auto' | 'low' | 'high' };
}

export interface OpenAiWireToolCall {
  id: string;
  type: string;
  function: { name: string; arguments: string };
}

export interface OpenAiWireMessage {
  role: string;
  content?: string | OpenAiWirePart[] | null;
  name?: string;
  tool_calls?: OpenAiWireToolCall[];
  tool_call_id?: string;
}

export interface OpenAiWireTool {
  type: string;
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean | null };
}

export type OpenAiWireToolChoice = 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };

export type OpenAiWireResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: { name: string; schema?: Record<string, unknown>; description?: string; strict?: boolean | null } };

/** The conversation fields of a schema-validated `POST /v1/chat/completions` body. */
export interface OpenAiChatInput {
  messages: OpenAiWireMessage[];
  tools?: OpenAiWireTool[];
  tool_choice?: OpenAiWireToolChoice;
  response_format?: OpenAiWireResponseFormat;
  parallel_tool_calls?: boolean;
}

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);

export function normalizeOpenAi(input: OpenAiChatInput, caps: ChatCapabilities): Result<ValidConversation> {
  const tools = toolsOf(input.tools, caps);
  if (!tools.ok) return tools;
  const messages = messagesOf(input.messages, caps);
  if (!messages.ok) return messages;
  const toolChoice = toolChoiceOf(input.tool_choice, tools.value);
  if (!toolChoice.ok) return toolChoice;
  const responseFormat = responseFormatOf(input.response_format, caps);
  if (!responseFormat.ok) return responseFormat;
  return ok({
    messages: messages.value,
    tools: tools.value,
    toolChoice: toolChoice.value,
    responseFormat: responseFormat.value,
    ...(input.parallel_tool_calls === undefined ? {} : { parallelToolCalls: input.parallel_tool_calls }),
  });
}

function messagesOf(wire: OpenAiWireMessage[], caps: ChatCapabilities): Result<ChatMessage[]> {
  if (wire.length === 0) return invalid('messages', 'must not be empty');
  const ledger = new ToolLedger();
  const out: ChatMessage[] = [];
  let turnsBegun = false;
  for (const [i, m] of wire.entries()) {
    const at = `messages[${i}]`;
    if (!ROLES.has(m.role)) return invalid(`${at}.role`, `"${m.role}" is not one of system, developer, user, assistant, tool`);
    if (m.role !== 'tool') {
      const open = ledger.unanswered(at);
      if (open !== undefined) return { ok: false, error: open };
    }
    const message = messageOf(m, at, caps, ledger);
    if (!message.ok) return message;
    if (message.value.role === 'system' || message.value.role === 'developer') {
      if (turnsBegun) return invalid(`${at}.role`, `is "${m.role}" after the conversation began; system and developer messages must come first`);
    } else {
      turnsBegun = true;
    }
    out.push(message.value);
  }
  const open = ledger.unanswered('the end of the conversation');
  if (open !== undefined) return { ok: false, error: open };
  if (!out.some((m) => m.role === 'user')) return invalid('messages', 'must contain a user message');
  const last = wire.length - 1;
  if (out.at(-1)?.role === 'assistant') return invalid(`messages[${last}].role`, 'is "assistant"; a conversation must end with a user or tool message (assistant prefill is not supported)');
  return ok(out);
}

function messageOf(m: OpenAiWireMessage, at: string, caps: ChatCapabilities, ledger: ToolLedger): Result<ChatMessage> {
  switch (m.role) {
    case 'system':
    case 'developer': {
      const content = textContent(m.content, at, false);
      return content.ok ? ok({ role: m.role, content: content.value }) : content;
    }
    case 'user': {
      const content = userContent(m.content, at, caps);
      if (!content.ok) return content;
      return ok({ role: 'user', content: content.value, ...(m.name === undefined ? {} : { name: m.name }) });
    }
    case 'assistant':
      return assistantOf(m, at, caps, ledger);
    default: {
      // 'tool' (roles were checked by the caller).
      if (!caps.tools) return invalid(`${at}.role`, 'is "tool", and the target model does not support tools');
      if (m.tool_call_id === undefined) return invalid(`${at}.tool_call_id`, 'is required on a tool message');
      const answered = ledger.answer(m.tool_call_id, `${at}.tool_call_id`);
      if (answered !== undefined) return { ok: false, error: answered };
      // A tool may legitimately return nothing, so empty content is allowed here.
      const content = textContent(m.content ?? '', at, true);
      return content.ok ? ok({ role: 'tool', toolCallId: m.tool_call_id, content: content.value, isError: false }) : content;
    }
  }
}

function assistantOf(m: OpenAiWireMessage, at: string, caps: ChatCapabilities, ledger: ToolLedger): Result<AssistantMessage> {
  const calls = m.tool_calls ?? [];
  if (m.tool_calls !== undefined && calls.length === 0) return invalid(`${at}.tool_calls`, 'must not be empty when present');
  if (calls.length > 0 && !caps.tools) return invalid(`${at}.tool_calls`, 'are present, and the target model does not support tools');
  const hasText = typeof m.content === 'string' ? m.content.length > 0 : Array.isArray(m.content) && m.content.length > 0;
  if (!hasText && calls.length === 0) return invalid(`${at}.content`, 'must not be empty on an assistant message without tool_calls');
  const content = hasText ? textContent(m.content, at, false) : ok<TextPart[]>([]);
  if (!content.ok) return content;
  const toolCalls: ToolCall[] = [];
  for (const [k, c] of calls.entries()) {
    const f = `${at}.tool_calls[${k}]`;
    if (c.type !== 'function') return invalid(`${f}.type`, `is "${c.type}"; only "function" tool calls exist`);
    if (c.id.length === 0) return invalid(`${f}.id`, 'must not be empty');
    const name = checkToolName(c.function.name, `${f}.function.name`);
    if (!name.ok) return name;
    const args = checkArguments(c.function.arguments, `${f}.function.arguments`);
    if (!args.ok) return args;
    const issued = ledger.issue(c.id, `${f}.id`);
    if (issued !== undefined) return { ok: false, error: issued };
    toolCalls.push({ id: c.id, name: name.value, arguments: args.value });
  }
  return ok({ role: 'assistant', content: content.value, toolCalls });
}

/** Text-only content (system, developer, assistant, tool): a string or text parts. */
function textContent(content: OpenAiWireMessage['content'], at: string, allowEmpty: boolean): Result<TextPart[]> {
  if (content === null || content === undefined) return invalid(`${at}.content`, 'is required');
  if (typeof content === 'string') {
    if (content.length === 0 && !allowEmpty) return invalid(`${at}.content`, 'must not be empty');
    return ok(content.length === 0 ? [] : [{ type: 'text', text: content }]);
  }
  if (content.length === 0 && !allowEmpty) return invalid(`${at}.content`, 'must not be empty');
  const parts: TextPart[] = [];
  for (const [j, p] of content.entries()) {
    const f = `${at}.content[${j}]`;
    if (p.type !== 'text') return invalid(`${f}.type`, `is "${p.type}"; this role takes text parts only`);
    if (p.text === undefined || p.text.length === 0) return invalid(`${f}.text`, 'must not be empty');
    parts.push({ type: 'text', text: p.text });
  }
  return ok(parts);
}

function userContent(content: OpenAiWireMessage['content'], at: string, caps: ChatCapabilities): Result<ContentPart[]> {
  if (content === null || content === undefined || content.length === 0) return invalid(`${at}.content`, 'must not be empty');
  if (typeof content === 'string') return ok([{ type: 'text', text: content }]);
  const parts: ContentPart[] = [];
  for (const [j, p] of content.entries()) {
    const f = `${at}.content[${j}]`;
    if (p.type === 'text') {
      if (p.text === undefined || p.text.length === 0) return invalid(`${f}.text`, 'must not be empty');
      parts.push({ type: 'text', text: p.text });
    } else if (p.type === 'image_url' && p.image_url !== undefined) {
      const vision = checkVision(caps, f);
      if (!vision.ok) return vision;
      const source = imageFromUrl(p.image_url.url, `${f}.image_url.url`);
      if (!source.ok) return source;
      parts.push({ type: 'image', source: source.value, ...(p.image_url.detail === undefined ? {} : { detail: p.image_url.detail }) });
    } else {
      return invalid(`${f}.type`, `is "${p.type}"; supported content parts are text and image_url`);
    }
  }
  return ok(parts);
}

function toolsOf(wire: OpenAiWireTool[] | undefined, caps: ChatCapabilities): Result<ToolDefinition[]> {
  if (wire === undefined || wire.length === 0) return ok([]);
  if (!caps.tools) return invalid('tools', 'are given, and the target model does not support tools');
  const seen = new Set<string>();
  const out: ToolDefinition[] = [];
  for (const [k, t] of wire.entries()) {
    const f = `tools[${k}]`;
    if (t.type !== 'function') return invalid(`${f}.type`, `is "${t.type}"; only "function" tools are supported`);
    const name = checkToolName(t.function.name, `${f}.function.name`);
    if (!name.ok) return name;
    if (seen.has(name.value)) return invalid(`${f}.function.name`, `"${name.value}" is defined twice`);
    seen.add(name.value);
    // OpenAI: omitting `parameters` defines a function that takes no arguments.
    const parameters = t.function.parameters === undefined
      ? ok({ type: 'object', properties: {} })
      : checkSchema(t.function.parameters, `${f}.function.parameters`);
    if (!parameters.ok) return parameters;
    out.push({
      name: name.value,
      parameters: parameters.value,
      ...(t.function.description === undefined ? {} : { description: t.function.description }),
      ...(typeof t.function.strict === 'boolean' ? { strict: t.function.strict } : {}),
    });
  }
  return ok(out);
}

function toolChoiceOf(wire: OpenAiWireToolChoice | undefined, tools: ToolDefinition[]): Result<ToolChoice> {
  if (wire === undefined || wire === 'auto') return ok({ type: 'auto' });
  if (wire === 'none') return ok({ type: 'none' });
  if (tools.length === 0) return invalid('tool_choice', 'asks for a tool call, and no tools are given');
  if (wire === 'required') return ok({ type: 'required' });
  const name = wire.function.name;
  if (!tools.some((t) => t.name === name)) return invalid('tool_choice.function.name', `"${name}" is not one of the given tools`);
  return ok({ type: 'tool', name });
}

function responseFormatOf(wire: OpenAiWireResponseFormat | undefined, caps: ChatCapabilities): Result<ResponseFormat> {
  if (wire === undefined || wire.type === 'text') return ok({ type: 'text' });
  if (wire.type === 'json_object') return checkResponseFormat({ type: 'json_object' }, caps, 'response_format');
  const spec = wire.json_schema;
  const name = checkToolName(spec.name, 'response_format.json_schema.name');
  if (!name.ok) return name;
  if (spec.schema === undefined) return invalid('response_format.json_schema.schema', 'is required');
  const schema = checkSchema(spec.schema, 'response_format.json_schema.schema');
  if (!schema.ok) return schema;
  return checkResponseFormat({
    type: 'json_schema',
    name: name.value,
    schema: schema.value,
    ...(spec.description === undefined ? {} : { description: spec.description }),
    ...(typeof spec.strict === 'boolean' ? { strict: spec.strict } : {}),
  }, caps, 'response_format');
}
