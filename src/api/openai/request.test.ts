import { describe, expect, it } from 'vitest';
import type { ChatCapabilities } from '../../core/chat/conversation.ts';
import { decodeOpenAiChatRequest, type OpenAiChatRequest } from './request.ts';

const caps: ChatCapabilities = { vision: false, tools: true, responseFormat: false, logprobs: false };
const limits = { defaultMaxTokens: 256 };
const body = (over: Partial<OpenAiChatRequest> = {}): OpenAiChatRequest => ({ model: 'demo', messages: [{ role: 'user', content: 'hi' }], ...over });

describe('decodeOpenAiChatRequest', () => {
  it.each<[string, Partial<OpenAiChatRequest>, string]>([
    ['n > 1', { n: 2 }, 'n'],
    ['logprobs on a model without them', { logprobs: true }, 'logprobs'],
    ['top_logprobs on a model without them', { top_logprobs: 2 }, 'top_logprobs'],
    ['a presence penalty', { presence_penalty: 0.5 }, 'presence_penalty'],
    ['a frequency penalty', { frequency_penalty: -1 }, 'frequency_penalty'],
    ['a logit bias', { logit_bias: { '50256': -100 } }, 'logit_bias'],
    ['deprecated functions', { functions: [{}] }, 'functions'],
    ['deprecated function_call', { function_call: 'auto' }, 'function_call'],
    ['audio output', { modalities: ['text', 'audio'] }, 'modalities'],
    ['store: true', { store: true }, 'store'],
    ['stream_options without stream', { stream_options: { include_usage: true } }, 'stream_options'],
    ['two different max token limits', { max_tokens: 10, max_completion_tokens: 20 }, 'max_completion_tokens'],
    ['an empty stop sequence', { stop: ['a', ''] }, 'stop[1]'],
    ['a conversation rule (via the normalizer)', { messages: [] }, 'messages'],
  ])('refuses %s up front, naming %s', (_what, over, field) => {
    expect(decodeOpenAiChatRequest(body(over), caps, limits)).toEqual({ ok: false, error: expect.objectContaining({ code: 'INVALID_PARAMS', field }) });
  });

  it('accepts the neutral values of unsupported parameters (n: 1, penalties 0, store false)', () => {
    expect(decodeOpenAiChatRequest(body({ n: 1, presence_penalty: 0, frequency_penalty: 0, store: false, logprobs: false }), caps, limits).ok).toBe(true);
  });

  it('maps sampling fields, the stop string, the user and include_usage; uses the configured default max_tokens', () => {
    const result = decodeOpenAiChatRequest(body({ temperature: 0.2, top_p: 0.9, seed: 7, stop: '\n', user: 'u1', stream: true, stream_options: { include_usage: true } }), caps, limits);
    expect(result.ok && { ...result.value, conversation: undefined }).toEqual({
      model: 'demo', maxTokens: 256, conversation: undefined, temperature: 0.2, topP: 0.9, seed: 7, stop: ['\n'], user: 'u1', stream: true, includeUsage: true,
    });
  });

  it('prefers max_completion_tokens and accepts it equal to max_tokens', () => {
    const result = decodeOpenAiChatRequest(body({ max_tokens: 32, max_completion_tokens: 32 }), caps, limits);
    expect(result.ok && result.value.maxTokens).toBe(32);
  });
});
