// Canonical request → Anthropic Messages API body (`POST /v1/messages`, ENGINES.md §8). Pure.
// Instructions become the top-level `system`; tool results become `tool_result` blocks of a user
// turn; consecutive turns of one role are merged (the API alternates user and assistant).
// What the API cannot say is a warning, never dropped silently: `developer` sent as system, an
// image `detail`, a user `name`, a tool's `strict`, a `seed`, a non-text response format.

import type { ContentPart } from '../../core/chat/content.ts';
import type { ChatShape } from '../../core/chat/handoff.ts';
import type { ChatMessage, InstructionMessage } from '../../core/chat/message.ts';
import type { ToolChoice } from '../../core/chat/tool-choice.ts';
import type { ChatWarning } from '../../core/chat/warning.ts';
import type { CanonicalRequest } from '../contract.ts';
import { asChatRequest } from '../http/completion-as-chat.ts';

export const MESSAGES_PATH = '/v1/messages';

/**
 * The Messages API: no developer role, user and assistant alternate starting with the user,
 * `tool_use.id` matches `^[a-zA-Z0-9_-]+$` (Anthropic Messages API reference).
 */
export const ANTHROPIC_CHAT_SHAPE: ChatShape = { developerRole: false, alternating: true, toolCallId: { pattern: /^[a-zA-Z0-9_-]+$/ } };
export const MODELS_PATH = '/v1/models';

export type ImageSourceBlock = { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string };
export type TextBlock = { type: 'text'; text: string };
export type ImageBlock = { type: 'image'; source: ImageSourceBlock };
export type ContentBlock =
  | TextBlock
  | ImageBlock
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'tool_result'; tool_use_id: string; content?: (TextBlock | ImageBlock)[]; is_error?: true };

export interface WireTurn {
  role: 'user' | 'assistant';
  content: ContentBlock[];
}

export type WireToolChoice =
  | { type: 'auto' | 'any'; disable_parallel_tool_use?: true }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: true }
  | { type: 'none' };

export interface MessagesBody {
  model: string;
  max_tokens: number;
  messages: WireTurn[];
  system?: string | TextBlock[];
  stream: true;
  temperature?: number;
  top_p?: number;
  stop_sequences?: string[];
  tools?: { name: string; description?: string; input_schema: Record<string, unknown> }[];
  tool_choice?: WireToolChoice;
}

export interface EncodedMessages {
  body: MessagesBody;
  warnings: ChatWarning[];
}

export function encodeAnthropic(req: CanonicalRequest): EncodedMessages {
  const { chat } = asChatRequest(req);
  const warnings: ChatWarning[] = [];
  const system: TextBlock[] = [];
  const turns: WireTurn[] = [];
  chat.messages.forEach((m, i) => {
    if (!isInstruction(m)) return append(turns, turnOf(m, i, warnings));
    if (m.role === 'developer') warnings.push({ code: 'role_renamed', message: 'a developer message was sent to Anthropic as system text', field: `messages[${i}].role` });
    system.push(...m.content.filter((p) => p.text.length > 0).map((p): TextBlock => ({ type: 'text', text: p.text })));
  });
  const body: MessagesBody = { model: req.model, max_tokens: req.maxTokens, messages: turns, stream: true };
  if (system.length === 1 && system[0] !== undefined) body.system = system[0].text;
  else if (system.length > 1) body.system = system;
  if (req.temperature !== undefined) body.temperature = req.temperature;
  if (req.topP !== undefined) body.top_p = req.topP;
  if (req.stop !== undefined && req.stop.length > 0) body.stop_sequences = req.stop;
  if (req.seed !== undefined) warnings.push({ code: 'field_not_forwarded', message: 'Anthropic takes no seed', field: 'seed' });
  if (chat.responseFormat.type !== 'text') warnings.push({ code: 'field_not_forwarded', message: 'Anthropic has no response format', field: 'response_format' });
  if (chat.tools.length > 0) {
    body.tools = chat.tools.map((t, k) => {
      if (t.strict !== undefined) warnings.push({ code: 'field_not_forwarded', message: 'Anthropic tools take no strict flag', field: `tools[${k}].strict` });
      return { name: t.name, input_schema: t.parameters, ...(t.description === undefined ? {} : { description: t.description }) };
    });
    body.tool_choice = wireToolChoice(chat.toolChoice, chat.parallelToolCalls === false);
  }
  return { body, warnings };
}

const isInstruction = (m: ChatMessage): m is InstructionMessage => m.role === 'system' || m.role === 'developer';

function turnOf(m: Exclude<ChatMessage, InstructionMessage>, i: number, warnings: ChatWarning[]): WireTurn {
  switch (m.role) {
    case 'user':
      if (m.name !== undefined) warnings.push({ code: 'field_not_forwarded', message: 'Anthropic messages carry no participant name', field: `messages[${i}].name` });
      return { role: 'user', content: blocks(m.content, i, warnings) };
    case 'assistant':
      return {
        role: 'assistant',
        content: [
          ...m.content.filter((p) => p.text.length > 0).map((p): ContentBlock => ({ type: 'text', text: p.text })),
          // The normalizer checked that arguments are the JSON text of an object.
          ...m.toolCalls.map((c): ContentBlock => ({ type: 'tool_use', id: c.id, name: c.name, input: JSON.parse(c.arguments) as unknown })),
        ],
      };
    case 'tool': {
      const content = blocks(m.content, i, warnings);
      return {
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: m.toolCallId, ...(content.length === 0 ? {} : { content }), ...(m.isError ? { is_error: true as const } : {}) }],
      };
    }
  }
}

function blocks(parts: readonly ContentPart[], i: number, warnings: ChatWarning[]): (TextBlock | ImageBlock)[] {
  return parts.flatMap((p, j): (TextBlock | ImageBlock)[] => {
    if (p.type === 'text') return p.text.length === 0 ? [] : [{ type: 'text', text: p.text }];
    if (p.detail !== undefined) warnings.push({ code: 'field_not_forwarded', message: 'Anthropic images take no detail hint', field: `messages[${i}].content[${j}].detail` });
    const source: ImageSourceBlock = p.source.kind === 'url' ? { type: 'url', url: p.source.url } : { type: 'base64', media_type: p.source.mediaType, data: p.source.data };
    return [{ type: 'image', source }];
  });
}

/** Consecutive turns of one role become one (tool results then the user's text, in order). */
function append(turns: WireTurn[], turn: WireTurn): void {
  const last = turns.at(-1);
  if (last !== undefined && last.role === turn.role) last.content.push(...turn.content);
  else turns.push(turn);
}

function wireToolChoice(choice: ToolChoice, serial: boolean): WireToolChoice {
  const parallel = serial ? { disable_parallel_tool_use: true as const } : {};
  switch (choice.type) {
    case 'none':
      return { type: 'none' };
    case 'auto':
      return { type: 'auto', ...parallel };
    case 'required':
      return { type: 'any', ...parallel };
    case 'tool':
      return { type: 'tool', name: choice.name, ...parallel };
  }
}
