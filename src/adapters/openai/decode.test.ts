import { describe, expect, it } from 'vitest';
import { decodeOutcome, goldenFixtures, splits } from '../../../test/support/adapter-test-kit.ts';
import type { CanonicalRequest, ChatStreamEvent } from '../contract.ts';
import { openAiDecoder } from './decode.ts';
import { openAiError, openAiErrorPolicy } from './errors.ts';

const fixtures = goldenFixtures(new URL('./fixtures/', import.meta.url));
const policy = openAiErrorPolicy(1000, () => []);
const chat: CanonicalRequest = {
  taskId: 't1',
  model: 'm',
  prompt: 'hi',
  maxTokens: 8,
  chat: { messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], tools: [], toolChoice: { type: 'auto' }, responseFormat: { type: 'text' } },
};
const decode = (req: CanonicalRequest, chunks: Uint8Array[]) => {
  const decoder = openAiDecoder(req);
  return decodeOutcome<ChatStreamEvent>(decoder, chunks, (err, tokens) => openAiError(err, tokens, policy));
};

describe('OpenAI-compatible provider golden fixtures', () => {
  it('has fixtures to check', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(5);
  });

  for (const { name, bytes, expected } of fixtures) {
    it(`decodes ${name} whole into the expected canonical events`, () => {
      expect(decode(chat, [bytes])).toEqual(expected);
    });

    it(`decodes ${name} identically when split at every byte boundary and fed one byte at a time`, () => {
      for (const chunks of splits(bytes)) expect(decode(chat, chunks)).toEqual(expected);
    });
  }
});

describe('openAiDecoder', () => {
  it('ends a completion-workload answer stop or length only (content_filter reads as stop)', () => {
    const bytes = new TextEncoder().encode('data: {"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"content_filter"}]}\n\ndata: [DONE]\n\n');
    const { prompt, model, taskId, maxTokens } = chat;
    expect(decode({ prompt, model, taskId, maxTokens }, [bytes]).events.at(-1)).toEqual({ type: 'end', finishReason: 'stop' });
    expect(decode(chat, [bytes]).events.at(-1)).toEqual({ type: 'end', finishReason: 'content_filter' });
  });
});
