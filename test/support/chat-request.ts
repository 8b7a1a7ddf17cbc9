// What the engine adapters' chat tests share: a small valid conversation (with tools), the
// canonical chat request around it, and readers for the events a chat stream yields.

import type { ValidConversation } from '../../src/core/chat/conversation.ts';
import { conversationText } from '../../src/core/chat/prompt-text.ts';
import type { CanonicalEvent, ChatCanonicalRequest } from '../../src/adapters/contract.ts';
import { fakeChatPrompt } from '../fakes/http/fake-chat.ts';
import { fakeCompletion } from '../fakes/http/fake-tokens.ts';

export const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'Current weather of a city',
  parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city'] },
};

/** A system prompt and one user turn; tools are offered unless `over` says otherwise. */
export function chatConversation(userText: string, over: Partial<ValidConversation> = {}): ValidConversation {
  return {
    messages: [
      { role: 'system', content: [{ type: 'text', text: 'Réponds brièvement 🙂' }] },
      { role: 'user', content: [{ type: 'text', text: userText }] },
    ],
    tools: [WEATHER_TOOL],
    toolChoice: { type: 'auto' },
    responseFormat: { type: 'text' },
    ...over,
  };
}

export function chatRequest(chat: ValidConversation, over: Partial<ChatCanonicalRequest> = {}): ChatCanonicalRequest {
  return { taskId: 'task-1', model: 'fake-model', prompt: conversationText(chat), maxTokens: 6, seed: 42, chat, ...over };
}

/** The text an engine fake answers to a conversation (`role: text` lines) for a seed. */
export function fakeChatAnswer(chat: ValidConversation, seed: number, count: number): string {
  const wire = chat.messages.map((m) => ({ role: m.role === 'developer' ? 'system' : m.role, content: m.content.map((p) => (p.type === 'text' ? p.text : '')).join('') }));
  return fakeCompletion(fakeChatPrompt(wire), seed, count).join('');
}

export const chatText = (events: readonly CanonicalEvent[]): string => events.flatMap((e) => (e.type === 'token' ? [e.text] : [])).join('');

export const toolCallArguments = (events: readonly CanonicalEvent[]): string =>
  events.flatMap((e) => (e.type === 'tool_call_delta' ? [e.arguments] : [])).join('');

export const toolCallStarts = (events: readonly CanonicalEvent[]) =>
  events.flatMap((e) => (e.type === 'tool_call_delta' && e.name !== undefined ? [{ index: e.index, id: e.id, name: e.name }] : []));
