// Anthropic Messages `system`, messages, tools and tool choice → the canonical conversation
// (issue 11). The top-level `system` becomes the leading system message; a user turn's
// `tool_result` blocks (which Anthropic requires first in that turn) become tool messages
// before the rest of the turn. Every refusal names the wire field.

import { ok, type Result } from '../errors.ts';
import type { ContentPart, TextPart } from './content.ts';
import type { ChatCapabilities, ValidConversation } from './conversation.ts';
import type { ChatMessage, ToolMessage } from './message.ts';
import { checkSchema, checkToolName, checkVision, imageFromBase64, imageFromUrl, invalid, isPlainObject } from './shared-rules.ts';
import type { ToolCall, ToolDefinition } from './tool.ts';
import type { ToolChoice } from './tool-choice.ts';
import { ToolLedger } from './tool-ledger.ts';

export interface AnthropicWireImageSource {
  type: string;
  media_type?: string;
  data?: string;
  url?: string;
}

export interface AnthropicWireBlock {
  type: string;
  text?: string;
  source?: AnthropicWireImageSource;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: string | AnthropicWireBlock[];
  is_error?: boolean;
}

export interface AnthropicWireMessage {
  role: string;
  content: string | AnthropicWireBlock[];
}

export interface AnthropicWireTool {
  /** Absent or "custom" for client tools; server tools (web_search, bash, …) carry their own types. */
  type?: string;
  name: string;
  description?: string;
  input_schema: Record<string, unknown>;
}

export type AnthropicWireToolChoice =
  | { type: 'auto'; disable_parallel_tool_use?: boolean }
  | { type: 'any'; disable_parallel_tool_use?: boolean }
  | { type: 'none' }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean };

/** The conversation fields of a schema-validated `POST /v1/messages` body. */
export interface AnthropicChatInput {
  system?: string | AnthropicWireBlock[];
  messages: AnthropicWireMessage[];
  tools?: AnthropicWireTool[];
  tool_choice?: AnthropicWireToolChoice;
}

export function normalizeAnthropic(input: AnthropicChatInput, caps: ChatCapabilities): Result<ValidConversation> {
  const tools = toolsOf(input.tools, caps);
  if (!tools.ok) return tools;
  const system = systemOf(input.system);
  if (!system.ok) return system;
  const messages = messagesOf(input.messages, caps);
  if (!messages.ok) return messages;
  const toolChoice = toolChoiceOf(input.tool_choice, tools.value);
  if (!toolChoice.ok) return toolChoice;
  const choice = input.tool_choice;
  const disable = choice === undefined || choice.type === 'none' ? undefined : choice.disable_parallel_tool_use;
  return ok({
    messages: [...system.value, ...messages.value],
    tools: tools.value,
    toolChoice: toolChoice.value,
    responseFormat: { type: 'text' },
    ...(disable === undefined ? {} : { parallelToolCalls: !disable }),
  });
}

function systemOf(wire: AnthropicChatInput['system']): Result<ChatMessage[]> {
  if (wire === undefined) return ok([]);
  if (typeof wire === 'string') {
    return wire.length === 0 ? invalid('system', 'must not be empty when present') : ok([{ role: 'system', content: [{ type: 'text', text: wire }] }]);
  }
  if (wire.length === 0) return invalid('system', 'must not be empty when present');
  const content: TextPart[] = [];
  for (const [j, b] of wire.entries()) {
    if (b.type !== 'text') return invalid(`system[${j}].type`, `is "${b.type}"; the system prompt takes text blocks only`);
    if (b.text === undefined || b.text.length === 0) return invalid(`system[${j}].text`, 'must not be empty');
    content.push({ type: 'text', text: b.text });
  }
  return ok([{ role: 'system', content }]);
}

function messagesOf(wire: AnthropicWireMessage[], caps: ChatCapabilities): Result<ChatMessage[]> {
  if (wire.length === 0) return invalid('messages', 'must not be empty');
  const ledger = new ToolLedger();
  const out: ChatMessage[] = [];
  for (const [i, m] of wire.entries()) {
    const at = `messages[${i}]`;
    if (m.role !== 'user' && m.role !== 'assistant') {
      const hint = m.role === 'system' ? ' (the system prompt goes in the top-level `system` field)' : '';
      return invalid(`${at}.role`, `"${m.role}" is not one of user, assistant${hint}`);
    }
    if (i === 0 && m.role !== 'user') return invalid(`${at}.role`, 'must be "user": a conversation begins with the user');
    if (typeof m.content === 'string' ? m.content.length === 0 : m.content.length === 0) return invalid(`${at}.content`, 'must not be empty');
    const blocks: AnthropicWireBlock[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
    const turn = m.role === 'user' ? userTurn(blocks, at, caps, ledger) : assistantTurn(blocks, at, caps, ledger);
    if (!turn.ok) return turn;
    out.push(...turn.value);
  }
  const open = ledger.unanswered('the end of the conversation');
  if (open !== undefined) return { ok: false, error: open };
  if (out.at(-1)?.role === 'assistant') {
    return invalid(`messages[${wire.length - 1}].role`, 'is "assistant"; a conversation must end with a user turn (assistant prefill is not supported)');
  }
  return ok(out);
}

/** Tool results first (one tool message each), then the rest of the turn as one user message. */
function userTurn(blocks: AnthropicWireBlock[], at: string, caps: ChatCapabilities, ledger: ToolLedger): Result<ChatMessage[]> {
  const results: ToolMessage[] = [];
  const parts: ContentPart[] = [];
  for (const [j, b] of blocks.entries()) {
    const f = `${at}.content[${j}]`;
    if (b.type === 'tool_result') {
      if (parts.length > 0) return invalid(`${f}.type`, 'is "tool_result" after other content; tool results must come first in a user turn');
      const result = toolResultOf(b, f, caps, ledger);
      if (!result.ok) return result;
      results.push(result.value);
      continue;
    }
    const part = partOf(b, f, caps, 'user');
    if (!part.ok) return part;
    parts.push(part.value);
  }
  const open = ledger.unanswered(at);
  if (open !== undefined) return { ok: false, error: open };
  return ok(parts.length === 0 ? results : [...results, { role: 'user', content: parts }]);
}

function toolResultOf(b: AnthropicWireBlock, f: string, caps: ChatCapabilities, ledger: ToolLedger): Result<ToolMessage> {
  if (b.tool_use_id === undefined) return invalid(`${f}.tool_use_id`, 'is required on a tool_result block');
  const answered = ledger.answer(b.tool_use_id, `${f}.tool_use_id`);
  if (answered !== undefined) return { ok: false, error: answered };
  const content: ContentPart[] = [];
  // An empty or absent result is allowed: a tool may return nothing.
  const inner: AnthropicWireBlock[] = typeof b.content === 'string' ? [{ type: 'text', text: b.content }] : (b.content ?? []);
  for (const [k, c] of inner.entries()) {
    if (c.type === 'text' && c.text === '') continue;
    const part = partOf(c, `${f}.content[${k}]`, caps, 'user');
    if (!part.ok) return part;
    content.push(part.value);
  }
  return ok({ role: 'tool', toolCallId: b.tool_use_id, content, isError: b.is_error === true });
}

function assistantTurn(blocks: AnthropicWireBlock[], at: string, caps: ChatCapabilities, ledger: ToolLedger): Result<ChatMessage[]> {
  const open = ledger.unanswered(at);
  if (open !== undefined) return { ok: false, error: open };
  const content: TextPart[] = [];
  const toolCalls: ToolCall[] = [];
  for (const [j, b] of blocks.entries()) {
    const f = `${at}.content[${j}]`;
    if (b.type !== 'tool_use') {
      const part = partOf(b, f, caps, 'assistant');
      if (!part.ok) return part;
      if (part.value.type === 'text') content.push(part.value);
      continue;
    }
    if (!caps.tools) return invalid(`${f}.type`, 'is "tool_use", and the target model does not support tools');
    if (b.id === undefined || b.id.length === 0) return invalid(`${f}.id`, 'must not be empty');
    const name = checkToolName(b.name ?? '', `${f}.name`);
    if (!name.ok) return name;
    if (!isPlainObject(b.input)) return invalid(`${f}.input`, 'must be an object');
    const issued = ledger.issue(b.id, `${f}.id`);
    if (issued !== undefined) return { ok: false, error: issued };
    toolCalls.push({ id: b.id, name: name.value, arguments: JSON.stringify(b.input) });
  }
  return ok([{ role: 'assistant', content, toolCalls }]);
}

function partOf(b: AnthropicWireBlock, f: string, caps: ChatCapabilities, role: 'user' | 'assistant'): Result<ContentPart> {
  if (b.type === 'text') {
    if (b.text === undefined || b.text.length === 0) return invalid(`${f}.text`, 'must not be empty');
    return ok({ type: 'text', text: b.text });
  }
  if (b.type === 'image' && role === 'user' && b.source !== undefined) {
    const vision = checkVision(caps, f);
    if (!vision.ok) return vision;
    const s = b.source;
    const source = s.type === 'base64'
      ? imageFromBase64(s.media_type ?? '', s.data ?? '', `${f}.source.media_type`, `${f}.source.data`)
      : s.type === 'url'
        ? imageFromUrl(s.url ?? '', `${f}.source.url`)
        : invalid(`${f}.source.type`, `is "${s.type}"; image sources are base64 or url`);
    return source.ok ? ok({ type: 'image', source: source.value }) : source;
  }
  const allowed = role === 'user' ? 'a user turn takes text, image and tool_result' : 'an assistant turn takes text and tool_use';
  return invalid(`${f}.type`, `is "${b.type}"; ${allowed} blocks`);
}

function toolsOf(wire: AnthropicWireTool[] | undefined, caps: ChatCapabilities): Result<ToolDefinition[]> {
  if (wire === undefined || wire.length === 0) return ok([]);
  if (!caps.tools) return invalid('tools', 'are given, and the target model does not support tools');
  const seen = new Set<string>();
  const out: ToolDefinition[] = [];
  for (const [k, t] of wire.entries()) {
    const f = `tools[${k}]`;
    if (t.type !== undefined && t.type !== 'custom') return invalid(`${f}.type`, `is "${t.type}"; only client tools are supported`);
    const name = checkToolName(t.name, `${f}.name`);
    if (!name.ok) return name;
    if (seen.has(name.value)) return invalid(`${f}.name`, `"${name.value}" is defined twice`);
    seen.add(name.value);
    const parameters = checkSchema(t.input_schema, `${f}.input_schema`);
    if (!parameters.ok) return parameters;
    out.push({ name: name.value, parameters: parameters.value, ...(t.description === undefined ? {} : { description: t.description }) });
  }
  return ok(out);
}

function toolChoiceOf(wire: AnthropicWireToolChoice | undefined, tools: ToolDefinition[]): Result<ToolChoice> {
  if (wire === undefined || wire.type === 'auto') return ok({ type: 'auto' });
  if (wire.type === 'none') return ok({ type: 'none' });
  if (tools.length === 0) return invalid('tool_choice', 'asks for a tool call, and no tools are given');
  if (wire.type === 'any') return ok({ type: 'required' });
  const name = wire.name;
  if (!tools.some((t) => t.name === name)) return invalid('tool_choice.name', `"${name}" is not one of the given tools`);
  return ok({ type: 'tool', name });
}
