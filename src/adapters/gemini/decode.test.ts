import { describe, expect, it } from 'vitest';
import { decodeOutcome, goldenFixtures, splits } from '../../../test/support/adapter-test-kit.ts';
import type { ChatStreamEvent } from '../contract.ts';
import { chatConversation, chatRequest } from '../../../test/support/chat-request.ts';
import { geminiDecoder, GeminiStreamDecoder } from './decode.ts';
import { geminiError, geminiErrorPolicy, readGoogleError } from './errors.ts';

const fixtures = goldenFixtures(new URL('./fixtures/', import.meta.url));
const policy = geminiErrorPolicy(1000);
const decode = (chunks: Uint8Array[]) =>
  decodeOutcome<ChatStreamEvent>(new GeminiStreamDecoder({ idPrefix: 'call_t1' }), chunks, (err, tokens) => geminiError(err, tokens, policy));

describe('Gemini golden fixtures', () => {
  it('has fixtures to check', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(10);
  });

  for (const { name, bytes, expected } of fixtures) {
    it(`decodes ${name} whole into the expected canonical events`, () => {
      expect(decode([bytes])).toEqual(expected);
    });

    // ORCH-0605
    it(`decodes ${name} identically when split at every byte boundary and fed one byte at a time`, () => {
      for (const chunks of splits(bytes)) expect(decode(chunks)).toEqual(expected);
    });
  }
});

describe('a completion (non-chat) request', () => {
  const chat = chatRequest(chatConversation('hi'));
  const { chat: _omitted, ...completion } = chat;
  const endOf = (name: string, req: typeof completion) => {
    const fixture = fixtures.find((f) => f.name === name);
    if (fixture === undefined) throw new Error(`no fixture ${name}`);
    return decodeOutcome<ChatStreamEvent>(geminiDecoder(req), [fixture.bytes], (err, tokens) => geminiError(err, tokens, policy)).events.at(-1);
  };

  it('ends stop where a chat answer ends content_filter or tool_calls, and keeps length', () => {
    const reasons = (req: typeof completion) =>
      ['safety-stop', 'prompt-blocked', 'function-call', 'max-tokens-thinking-cached'].map((name) => {
        const end = endOf(name, req);
        return end?.type === 'end' ? end.finishReason : undefined;
      });
    expect(reasons(chat)).toEqual(['content_filter', 'content_filter', 'tool_calls', 'length']);
    expect(reasons(completion)).toEqual(['stop', 'stop', 'stop', 'length']);
  });
});

describe('GeminiStreamDecoder', () => {
  const msg = (data: string) => ({ event: undefined, data, id: undefined, retry: undefined });

  it('reports a message that is not a JSON object', () => {
    expect(new GeminiStreamDecoder({ idPrefix: 'c' }).push(msg('[{"candidates":[]}]'), [])).toEqual({ message: expect.stringContaining('not a JSON object') });
  });

  it('ignores candidates other than index 0 and a function call without a name', () => {
    const out: ChatStreamEvent[] = [];
    const decoder = new GeminiStreamDecoder({ idPrefix: 'c' });
    decoder.push(msg('{"candidates":[{"index":1,"content":{"parts":[{"text":"other"}]}}]}'), out);
    decoder.push(msg('{"candidates":[{"index":0,"content":{"parts":[{"functionCall":{"args":{}}}]}}]}'), out);
    expect(out).toEqual([]);
    expect(decoder.finish(out)).toBe(false);
  });
});

describe('readGoogleError', () => {
  it('reads code, status, RetryInfo and ErrorInfo', () => {
    const body = {
      error: {
        code: 429,
        message: 'quota',
        status: 'RESOURCE_EXHAUSTED',
        details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'RATE_LIMIT_EXCEEDED' }, { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '17.5s' }],
      },
    };
    expect(readGoogleError(body)).toEqual({ message: 'quota', status: 429, type: 'RESOURCE_EXHAUSTED', retryAfterMs: 17_500, reason: 'RATE_LIMIT_EXCEEDED' });
    expect(readGoogleError({ error: 'text' })).toBeUndefined();
    expect(readGoogleError('x')).toBeUndefined();
  });
});
