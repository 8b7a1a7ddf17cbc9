import { describe, expect, it } from 'vitest';
import { chatConversation, chatRequest } from '../../../test/support/chat-request.ts';
import { encodeLlamacppChat } from './chat-encode.ts';

describe('encodeLlamacppChat', () => {
  it('adds the session slot and prompt-cache fields to the shared chat body', () => {
    const body = encodeLlamacppChat(chatRequest(chatConversation('hi', { tools: [] }), { slotId: 2, cachePrompt: false }));
    expect(body).toEqual({
      model: 'fake-model',
      messages: [{ role: 'system', content: 'Réponds brièvement 🙂' }, { role: 'user', content: 'hi' }],
      max_tokens: 6,
      stream: true,
      stream_options: { include_usage: true },
      seed: 42,
      id_slot: 2,
      cache_prompt: false,
    });
  });

  it('lets the server pick a slot and keeps the prompt cache by default', () => {
    expect(encodeLlamacppChat(chatRequest(chatConversation('hi')))).toMatchObject({ id_slot: -1, cache_prompt: true });
  });
});
