// Handoff normalization across every provider pair (issue 13 item 3): a conversation whose
// history came from one provider (its tool-call ids, roles, turn order, parts) is rewritten by
// core/chat/handoff.ts for each target, and the result fits the target, keeps every text, is
// deterministic and idempotent, and warns exactly when it changed something. Where the target's
// encoder exists (OpenAI-compatible, Anthropic) the encoded wire is checked too.
// The Gemini and Ollama adapters declare no chatShape yet: their rows are the shapes their API references state
// (Gemini: `systemInstruction`, user/model alternation, function calls matched by name;
// Ollama `/api/chat`: free order, no developer role), for their adapters to declare.

import { describe, expect, it } from 'vitest';
import { textOf } from '../core/chat/content.ts';
import type { ChatCapabilities, ValidConversation } from '../core/chat/conversation.ts';
import { FREE_SHAPE, handOff, IMAGE_PLACEHOLDER, type HandoffTarget } from '../core/chat/handoff.ts';
import type { ChatMessage } from '../core/chat/message.ts';
import { ANTHROPIC_CHAT_SHAPE, encodeAnthropic } from './anthropic/encode.ts';
import { encodeChat } from './openai-compat/chat-encode.ts';

const ALL: ChatCapabilities = { vision: true, tools: true, responseFormat: true, logprobs: false };

const TARGETS: Record<string, HandoffTarget> = {
  openai: { caps: ALL, shape: FREE_SHAPE },
  anthropic: { caps: { ...ALL, responseFormat: false }, shape: ANTHROPIC_CHAT_SHAPE },
  gemini: { caps: ALL, shape: { developerRole: false, alternating: true } },
  ollama: { caps: ALL, shape: { developerRole: false, alternating: false } },
  // llama.cpp / vLLM / TGI with their default chat options: no images, no tools.
  engine: { caps: { vision: false, tools: false, responseFormat: true, logprobs: false }, shape: FREE_SHAPE },
};

const text = (t: string) => [{ type: 'text' as const, text: t }];
const weather = { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } };

/** A tool-calling history as each provider leaves it: its own id format, roles and turn order. */
function historyFrom(provider: string): ValidConversation {
  const ids: Record<string, string> = {
    openai: 'call_Vq9x2LkP0aBc',
    anthropic: 'toolu_01A09q90qw90lq917835lq9',
    // Gemini function calls carry no id; its decoder names them by position and function.
    gemini: 'gemini/0:get_weather',
    ollama: 'ollama.call.0',
    engine: 'chatcmpl-tool-8e2f0c1d',
  };
  const id = ids[provider] ?? 'x';
  const messages: ChatMessage[] = [
    { role: 'system', content: text('You answer briefly.') },
    ...(provider === 'openai' ? [{ role: 'developer' as const, content: text('Prefer metric units.') }] : []),
    // OpenAI and the engines take a conversation that opens with the assistant, and two user turns in a row.
    ...(provider === 'openai' || provider === 'engine' ? [{ role: 'assistant' as const, content: text('Hello, how can I help?'), toolCalls: [] }] : []),
    { role: 'user', content: [...text('What is the weather in Zürich?'), { type: 'image', source: { kind: 'url', url: 'https://example.org/sky.png' } }] },
    ...(provider === 'openai' || provider === 'ollama' ? [{ role: 'user' as const, content: text('And tomorrow?') }] : []),
    { role: 'assistant', content: text('Checking.'), toolCalls: [{ id, name: 'get_weather', arguments: '{"city":"Zürich"}' }] },
    { role: 'tool', toolCallId: id, content: text('{"celsius":21}'), isError: false },
    { role: 'assistant', content: text('It is 21 °C.'), toolCalls: [] },
    { role: 'user', content: text('Thanks!') },
  ];
  return { messages, tools: [weather], toolChoice: { type: 'auto' }, responseFormat: provider === 'openai' ? { type: 'json_object' } : { type: 'text' } };
}

/** Every text the client wrote, in order (tool results included). */
const texts = (c: ValidConversation) => c.messages.flatMap((m) => (m.role === 'assistant' ? [textOf(m.content)] : [textOf(m.content)])).filter((t) => t.length > 0);

function problemsFor(c: ValidConversation, target: HandoffTarget): string[] {
  const problems: string[] = [];
  const { caps, shape } = target;
  const turns = c.messages.filter((m) => m.role !== 'system' && m.role !== 'developer');
  if (!shape.developerRole && c.messages.some((m) => m.role === 'developer')) problems.push('developer role');
  if (shape.alternating) {
    if (turns[0]?.role !== 'user') problems.push('first turn is not the user');
    turns.forEach((m, i) => {
      const prev = turns[i - 1];
      if (prev && (m.role === 'user' || m.role === 'assistant') && prev.role === m.role) problems.push(`two ${m.role} turns at ${i}`);
    });
  }
  const callIds = new Set<string>();
  for (const m of c.messages) {
    if (m.role === 'assistant') m.toolCalls.forEach((call) => callIds.add(call.id));
    if (m.role === 'tool' && !callIds.has(m.toolCallId)) problems.push(`tool result ${m.toolCallId} answers no call`);
  }
  if (shape.toolCallId) for (const id of callIds) if (!shape.toolCallId.pattern.test(id)) problems.push(`id ${id}`);
  if (!caps.vision && c.messages.some((m) => (m.role === 'user' || m.role === 'tool') && m.content.some((p) => p.type === 'image'))) problems.push('image');
  if (!caps.tools && (c.tools.length > 0 || callIds.size > 0 || c.messages.some((m) => m.role === 'tool'))) problems.push('tools');
  if (!caps.responseFormat && c.responseFormat.type !== 'text') problems.push('response format');
  return problems;
}

const PAIRS = Object.keys(TARGETS).flatMap((from) => Object.keys(TARGETS).map((to) => [from, to] as const));

describe('handoff across every provider pair', () => {
  it.each(PAIRS)('%s history → %s: fits the target, keeps every text, warns for each change', (from, to) => {
    const target = TARGETS[to] as HandoffTarget;
    const source = historyFrom(from);
    const { conversation, warnings } = handOff(source, target);
    expect(problemsFor(conversation, target)).toEqual([]);
    // Nothing the client wrote is lost: texts survive, merged or as tool text, in order.
    const joined = texts(conversation).join('\n');
    let at = 0;
    for (const t of texts(source)) {
      const found = joined.indexOf(t, at);
      expect(found, `text ${JSON.stringify(t)}`).toBeGreaterThanOrEqual(0);
      at = found;
    }
    expect(warnings.length > 0).toBe(JSON.stringify(conversation) !== JSON.stringify(source));
    for (const w of warnings) expect(w.message.length).toBeGreaterThan(0);
    // Deterministic and idempotent.
    expect(handOff(source, target)).toEqual({ conversation, warnings });
    expect(handOff(conversation, target)).toEqual({ conversation, warnings: [] });
  });

  it.each(PAIRS.filter(([, to]) => to === 'anthropic'))('%s history → the Anthropic wire alternates, opens with the user and carries valid tool_use ids', (from) => {
    const { conversation } = handOff(historyFrom(from), TARGETS['anthropic'] as HandoffTarget);
    const { body } = encodeAnthropic({ taskId: 't', model: 'm', prompt: '', maxTokens: 8, chat: conversation });
    expect(body.messages[0]?.role).toBe('user');
    body.messages.forEach((turn, i) => expect(turn.role).not.toBe(body.messages[i - 1]?.role));
    const ids = body.messages.flatMap((t) => t.content.flatMap((b) => (b.type === 'tool_use' ? [b.id] : b.type === 'tool_result' ? [b.tool_use_id] : [])));
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) expect(id).toMatch(/^[a-zA-Z0-9_-]+$/);
  });

  it.each(PAIRS.filter(([, to]) => to === 'engine'))('%s history → an engine without tools or images gets plain text on its wire', (from) => {
    const { conversation } = handOff(historyFrom(from), TARGETS['engine'] as HandoffTarget);
    const { body } = encodeChat({ taskId: 't', model: 'm', prompt: '', maxTokens: 8, chat: conversation });
    const wire = JSON.stringify(body);
    expect(wire).not.toMatch(/"tool_calls"|"tools"|"image_url"|"role":"tool"/);
    expect(wire).toContain(IMAGE_PLACEHOLDER);
  });
});

describe('handoff rewrites', () => {
  it('rewrites refused tool-call ids the same way in calls and results, avoiding ids already in use', () => {
    const conv: ValidConversation = {
      messages: [
        { role: 'user', content: text('go') },
        { role: 'assistant', content: [], toolCalls: [{ id: 'a.b', name: 'f', arguments: '{}' }, { id: 'a_b', name: 'f', arguments: '{}' }] },
        { role: 'tool', toolCallId: 'a.b', content: text('1'), isError: false },
        { role: 'tool', toolCallId: 'a_b', content: text('2'), isError: true },
      ],
      tools: [{ name: 'f', parameters: { type: 'object' } }],
      toolChoice: { type: 'required' },
      responseFormat: { type: 'text' },
    };
    const { conversation, warnings } = handOff(conv, TARGETS['anthropic'] as HandoffTarget);
    const assistant = conversation.messages[1];
    expect(assistant?.role === 'assistant' ? assistant.toolCalls.map((c) => c.id) : []).toEqual(['a_b_1', 'a_b']);
    expect(conversation.messages.slice(2).map((m) => (m.role === 'tool' ? m.toolCallId : ''))).toEqual(['a_b_1', 'a_b']);
    expect(warnings).toEqual([{ code: 'tool_call_id_rewritten', message: expect.stringContaining('"a.b"') as string, field: 'messages[1].tool_calls[0].id' }]);
  });

  it('cuts ids to the length limit with the suffix inside it', () => {
    const conv: ValidConversation = {
      messages: [
        { role: 'user', content: text('go') },
        { role: 'assistant', content: [], toolCalls: [{ id: 'x'.repeat(12), name: 'f', arguments: '{}' }, { id: `${'x'.repeat(8)}!`, name: 'f', arguments: '{}' }] },
        { role: 'tool', toolCallId: 'x'.repeat(12), content: text('1'), isError: false },
        { role: 'tool', toolCallId: `${'x'.repeat(8)}!`, content: text('2'), isError: false },
      ],
      tools: [{ name: 'f', parameters: { type: 'object' } }],
      toolChoice: { type: 'auto' },
      responseFormat: { type: 'text' },
    };
    const { conversation } = handOff(conv, { caps: ALL, shape: { ...FREE_SHAPE, toolCallId: { pattern: /^[a-z]+$|^[a-z_0-9]+$/, maxLength: 8 } } });
    const ids = conversation.messages.flatMap((m) => (m.role === 'assistant' ? m.toolCalls.map((c) => c.id) : []));
    expect(ids).toEqual(['xxxxxxxx', 'xxxxxx_1']);
  });

  it('sends tool turns as text, drops tool definitions and a forced tool choice, each with a warning', () => {
    const conv = { ...historyFrom('anthropic'), toolChoice: { type: 'tool' as const, name: 'get_weather' } };
    const { conversation, warnings } = handOff(conv, TARGETS['engine'] as HandoffTarget);
    expect(conversation.tools).toEqual([]);
    expect(conversation.toolChoice).toEqual({ type: 'auto' });
    expect(warnings.map((w) => w.code)).toEqual(['part_dropped', 'field_not_forwarded', 'field_not_forwarded', 'tool_turn_as_text', 'tool_turn_as_text']);
    expect(JSON.stringify(conversation)).toContain('[called tool get_weather (toolu_01A09q90qw90lq917835lq9) with {\\"city\\":\\"Zürich\\"}]');
  });

  it('leaves a conversation that already fits untouched, without warnings', () => {
    const conv: ValidConversation = { messages: [{ role: 'system', content: text('s') }, { role: 'user', content: text('hi') }], tools: [], toolChoice: { type: 'auto' }, responseFormat: { type: 'text' } };
    for (const target of Object.values(TARGETS)) expect(handOff(conv, target)).toEqual({ conversation: conv, warnings: [] });
  });
});
