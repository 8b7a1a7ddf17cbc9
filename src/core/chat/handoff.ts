// Handoff normalization (issue 13 item 3): a conversation that reaches a chat target other than
// the one its history came from (a fallback hop, a session changing pool, a client replaying
// another provider's turns) is rewritten, deterministically and idempotently, into the shape
// the target takes, with one warning per rewrite. Pure; targets describe themselves by flags.

import type { ContentPart, TextPart } from './content.ts';
import type { ChatCapabilities, ValidConversation } from './conversation.ts';
import type { ChatMessage, UserMessage } from './message.ts';
import type { ChatWarning } from './warning.ts';

/** What a chat target requires of a conversation's shape beyond its capabilities (declared by its adapter). */
export interface ChatShape {
  /** The target knows a `developer` role (OpenAI); elsewhere it is sent as `system`. */
  developerRole: boolean;
  /**
   * User and assistant turns alternate and the first turn is the user's (Anthropic, Gemini);
   * tool results count as the user's side. Consecutive turns of one side are merged.
   */
  alternating: boolean;
  /** The tool-call ids the target accepts (Anthropic `^[a-zA-Z0-9_-]+$`); absent = any non-empty id. */
  toolCallId?: { pattern: RegExp; maxLength?: number };
}

/** A target that asks nothing of the shape (OpenAI's Chat Completions). */
export const FREE_SHAPE: ChatShape = { developerRole: true, alternating: false };

export interface HandoffTarget {
  caps: ChatCapabilities;
  shape: ChatShape;
}

export interface HandedOff {
  conversation: ValidConversation;
  warnings: ChatWarning[];
}

/** The text a dropped image leaves in its place, so the model knows something was there. */
export const IMAGE_PLACEHOLDER = '[image not forwarded: the model takes no images]';
/** The user turn put first when a conversation opens with the assistant on an alternating target. */
export const OPENING_PLACEHOLDER = '(conversation continues)';

export function handOff(conversation: ValidConversation, target: HandoffTarget): HandedOff {
  const warnings: ChatWarning[] = [];
  let messages = conversation.messages.map((m, i) => partsFit(m, i, target.caps, warnings));
  const out: ValidConversation = { ...conversation, messages };
  if (!target.caps.tools) toolsAsText(out, warnings);
  if (!target.caps.responseFormat && out.responseFormat.type !== 'text') {
    warnings.push({ code: 'field_not_forwarded', message: `the target cannot constrain its output format; ${out.responseFormat.type} dropped`, field: 'response_format' });
    out.responseFormat = { type: 'text' };
  }
  messages = out.messages;
  if (!target.shape.developerRole) messages = developerAsSystem(messages, warnings);
  if (target.shape.toolCallId) messages = rewriteIds(messages, target.shape.toolCallId, warnings);
  if (target.shape.alternating) messages = alternate(messages, warnings);
  return { conversation: { ...out, messages }, warnings };
}

/** Images to a target without vision become a placeholder text part. */
function partsFit(m: ChatMessage, i: number, caps: ChatCapabilities, warnings: ChatWarning[]): ChatMessage {
  if (caps.vision || (m.role !== 'user' && m.role !== 'tool')) return m;
  if (!m.content.some((p) => p.type === 'image')) return m;
  const content = m.content.map((p, j): ContentPart => {
    if (p.type !== 'image') return p;
    warnings.push({ code: 'part_dropped', message: 'an image was replaced by a placeholder: the target takes no images', field: `messages[${i}].content[${j}]` });
    return { type: 'text', text: IMAGE_PLACEHOLDER };
  });
  return { ...m, content };
}

/** A target without tools gets the tool turns as text and no tool definitions. */
function toolsAsText(out: ValidConversation, warnings: ChatWarning[]): void {
  if (out.tools.length > 0) warnings.push({ code: 'field_not_forwarded', message: `${out.tools.length} tool definition(s) dropped: the target takes no tools`, field: 'tools' });
  if (out.toolChoice.type !== 'auto') warnings.push({ code: 'field_not_forwarded', message: 'tool_choice dropped: the target takes no tools', field: 'tool_choice' });
  out.tools = [];
  out.toolChoice = { type: 'auto' };
  delete out.parallelToolCalls;
  out.messages = out.messages.map((m, i): ChatMessage => {
    if (m.role === 'assistant' && m.toolCalls.length > 0) {
      warnings.push({ code: 'tool_turn_as_text', message: 'tool calls were sent as assistant text: the target takes no tools', field: `messages[${i}].tool_calls` });
      const calls = m.toolCalls.map((c): TextPart => ({ type: 'text', text: `[called tool ${c.name} (${c.id}) with ${c.arguments}]` }));
      return { role: 'assistant', content: [...m.content, ...calls], toolCalls: [] };
    }
    if (m.role !== 'tool') return m;
    warnings.push({ code: 'tool_turn_as_text', message: 'a tool result was sent as user text: the target takes no tools', field: `messages[${i}]` });
    const head: TextPart = { type: 'text', text: `[${m.isError ? 'error from' : 'result of'} tool call ${m.toolCallId}]\n` };
    return { role: 'user', content: [head, ...m.content] };
  });
}

function developerAsSystem(messages: ChatMessage[], warnings: ChatWarning[]): ChatMessage[] {
  return messages.map((m, i) => {
    if (m.role !== 'developer') return m;
    warnings.push({ code: 'role_renamed', message: 'a developer message was sent as system: the target knows no developer role', field: `messages[${i}].role` });
    return { role: 'system', content: m.content };
  });
}

/**
 * Ids the target refuses are rewritten the same way every time (refused characters → `_`, cut to
 * the limit, a `_<n>` suffix against collisions), in calls and results alike.
 */
function rewriteIds(messages: ChatMessage[], rule: NonNullable<ChatShape['toolCallId']>, warnings: ChatWarning[]): ChatMessage[] {
  const fits = (id: string) => id.length > 0 && rule.pattern.test(id) && (rule.maxLength === undefined || id.length <= rule.maxLength);
  const kept = new Set(messages.flatMap((m) => (m.role === 'assistant' ? m.toolCalls.map((c) => c.id) : [])).filter(fits));
  const renamed = new Map<string, string>();
  const rename = (id: string, field: string): string => {
    if (fits(id)) return id;
    const known = renamed.get(id);
    if (known !== undefined) return known;
    const base = [...id].map((ch) => (rule.pattern.test(ch) ? ch : '_')).join('').slice(0, rule.maxLength) || 'call';
    let next = base;
    for (let n = 1; !fits(next) || kept.has(next); n++) next = `${base.slice(0, rule.maxLength === undefined ? undefined : rule.maxLength - `_${n}`.length)}_${n}`;
    kept.add(next);
    renamed.set(id, next);
    warnings.push({ code: 'tool_call_id_rewritten', message: `tool-call id ${JSON.stringify(id)} was sent as ${next}: the target refuses its characters or length`, field });
    return next;
  };
  return messages.map((m, i): ChatMessage => {
    if (m.role === 'assistant' && m.toolCalls.some((c) => !fits(c.id))) {
      return { ...m, toolCalls: m.toolCalls.map((c, k) => ({ ...c, id: rename(c.id, `messages[${i}].tool_calls[${k}].id`) })) };
    }
    if (m.role === 'tool' && !fits(m.toolCallId)) return { ...m, toolCallId: rename(m.toolCallId, `messages[${i}].tool_call_id`) };
    return m;
  });
}

/**
 * Alternation: consecutive user turns (or assistant turns) merge into one, in order; a tool
 * result is the user's side and is never merged (the encoder groups results); a conversation
 * that opens with the assistant gets a placeholder user turn first.
 */
function alternate(messages: ChatMessage[], warnings: ChatWarning[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  const side = (m: ChatMessage) => (m.role === 'assistant' ? 'assistant' : m.role === 'system' || m.role === 'developer' ? 'instruction' : 'user');
  messages.forEach((m, i) => {
    const last = out.at(-1);
    if (m.role === 'assistant' && (last === undefined || side(last) === 'instruction')) {
      warnings.push({ code: 'turn_inserted', message: 'a user turn was put before the first assistant turn: the target starts with the user', field: `messages[${i}]` });
      out.push({ role: 'user', content: [{ type: 'text', text: OPENING_PLACEHOLDER }] });
    }
    const prev = out.at(-1);
    if (m.role === 'user' && prev?.role === 'user') {
      warnings.push({ code: 'turns_merged', message: 'consecutive user turns were merged: the target alternates turns', field: `messages[${i}]` });
      out[out.length - 1] = mergeUser(prev, m);
      return;
    }
    if (m.role === 'assistant' && prev?.role === 'assistant') {
      warnings.push({ code: 'turns_merged', message: 'consecutive assistant turns were merged: the target alternates turns', field: `messages[${i}]` });
      out[out.length - 1] = { role: 'assistant', content: [...prev.content, ...m.content], toolCalls: [...prev.toolCalls, ...m.toolCalls] };
      return;
    }
    out.push(m);
  });
  return out;
}

function mergeUser(a: UserMessage, b: UserMessage): UserMessage {
  const name = a.name === b.name ? a.name : undefined;
  return { role: 'user', content: [...a.content, ...b.content], ...(name !== undefined ? { name } : {}) };
}
