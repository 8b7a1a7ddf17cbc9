import { describe, expect, it } from 'vitest';
import type { ChatCapabilities } from '../../core/chat/conversation.ts';
import { decodeAnthropicRequest, type AnthropicMessagesRequest } from './request.ts';

const caps: ChatCapabilities = { vision: false, tools: true, responseFormat: false, logprobs: false };
const body = (over: Partial<AnthropicMessagesRequest> = {}): AnthropicMessagesRequest => ({
  model: 'demo', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }], ...over,
});

describe('decodeAnthropicRequest', () => {
  it.each<[string, Partial<AnthropicMessagesRequest>, string]>([
    ['top_k', { top_k: 5 }, 'top_k'],
    ['extended thinking', { thinking: { type: 'enabled', budget_tokens: 1024 } }, 'thinking'],
    ['MCP servers', { mcp_servers: [] }, 'mcp_servers'],
    ['a code container', { container: 'c1' }, 'container'],
    ['an empty stop sequence', { stop_sequences: [''] }, 'stop_sequences[0]'],
    ['a conversation rule (via the normalizer)', { system: '' }, 'system'],
  ])('refuses %s up front, naming %s', (_what, over, field) => {
    expect(decodeAnthropicRequest(body(over), caps)).toEqual({ ok: false, error: expect.objectContaining({ code: 'INVALID_PARAMS', field }) });
  });

  it('maps max_tokens, sampling, stop sequences, metadata.user_id and streaming', () => {
    const result = decodeAnthropicRequest(body({ temperature: 0.5, top_p: 0.8, stop_sequences: ['END'], metadata: { user_id: 'u1' }, stream: true, thinking: { type: 'disabled' } }), caps);
    expect(result.ok && { ...result.value, conversation: undefined }).toEqual({
      model: 'demo', maxTokens: 64, conversation: undefined, temperature: 0.5, topP: 0.8, stop: ['END'], user: 'u1', stream: true, includeUsage: true,
    });
  });
});
