import { describe, expect, it } from 'vitest';
import { decodeOutcome, goldenFixtures, splits } from '../../../test/support/adapter-test-kit.ts';
import type { ChatStreamEvent } from '../contract.ts';
import { toEngineError } from '../http/error-map.ts';
import { ChatStreamDecoder } from './chat-decode.ts';

const fixtures = goldenFixtures(new URL('./fixtures/chat/', import.meta.url));
const policy = { engine: 'OpenAI-compatible', isLoading: () => false, overloadRetryAfterMs: 1000 };
// Each fixture is decoded as its engine's adapter builds the decoder: only vLLM reads `stop_reason`.
const decode = (chunks: Uint8Array[], name: string) =>
  decodeOutcome<ChatStreamEvent>(
    new ChatStreamDecoder({ toolCallIds: 'engine', idPrefix: 'call_t1', readsStopReason: name.startsWith('vllm-') }),
    chunks,
    (err, tokens) => toEngineError(err, tokens, policy),
  );

describe('OpenAI-compatible chat golden fixtures', () => {
  it('has fixtures to check', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(8);
  });

  for (const { name, bytes, expected } of fixtures) {
    it(`decodes ${name} whole into the expected canonical events`, () => {
      expect(decode([bytes], name)).toEqual(expected);
    });

    it(`decodes ${name} identically when split at every byte boundary and fed one byte at a time`, () => {
      for (const chunks of splits(bytes)) expect(decode(chunks, name)).toEqual(expected);
    });
  }
});

describe('ChatStreamDecoder', () => {
  const msg = (data: string, event?: string) => ({ event, data, id: undefined, retry: undefined });
  const chunk = (delta: unknown, finish: string | null = null) => msg(JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] }));

  it('mints an id for a call the engine sent without one, and keeps the engine id otherwise', () => {
    const out: ChatStreamEvent[] = [];
    const decoder = new ChatStreamDecoder({ toolCallIds: 'engine', idPrefix: 'call_t9' });
    decoder.push(chunk({ tool_calls: [{ index: 0, function: { name: 'a', arguments: '{}' } }, { index: 1, id: 'x', function: { name: 'b', arguments: '' } }] }, 'tool_calls'), out);
    decoder.push(msg('[DONE]'), out);
    expect(out).toEqual([
      { type: 'tool_call_delta', index: 0, id: 'call_t9_0', name: 'a', arguments: '{}' },
      { type: 'tool_call_delta', index: 1, id: 'x', name: 'b', arguments: '' },
      { type: 'end', finishReason: 'tool_calls' },
    ]);
  });

  it('refuses a tool call that begins out of order', () => {
    const decoder = new ChatStreamDecoder({ toolCallIds: 'engine', idPrefix: 'c' });
    expect(decoder.push(chunk({ tool_calls: [{ index: 1, id: 'x', function: { name: 'b', arguments: '' } }] }), []))
      .toEqual({ message: 'engine began tool call 1 before tool call 0' });
  });

  it('fails on an engine-side abort finish reason', () => {
    const decoder = new ChatStreamDecoder({ toolCallIds: 'engine', idPrefix: 'c' });
    expect(decoder.push(chunk({ content: 'a' }, 'abort'), [])).toEqual({ message: 'engine finished the request with "abort"' });
  });

  it('names no stop sequence from a stop_reason unless the engine is one whose wire carries it', () => {
    const finish = msg(JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop', stop_reason: 'END' }] }));
    const ends = [false, true].map((readsStopReason) => {
      const out: ChatStreamEvent[] = [];
      const decoder = new ChatStreamDecoder({ toolCallIds: 'engine', idPrefix: 'c', readsStopReason });
      decoder.push(finish, out);
      decoder.push(msg('[DONE]'), out);
      return out;
    });
    expect(ends).toEqual([[{ type: 'end', finishReason: 'stop' }], [{ type: 'end', finishReason: 'stop', stopSequence: 'END' }]]);
  });

  it('names no stop sequence when vLLM ends for another reason than a stop', () => {
    const out: ChatStreamEvent[] = [];
    const decoder = new ChatStreamDecoder({ toolCallIds: 'engine', idPrefix: 'c', readsStopReason: true });
    decoder.push(msg(JSON.stringify({ choices: [{ index: 0, delta: { content: 'a' }, finish_reason: 'length', stop_reason: 'END' }] })), out);
    decoder.push(msg('[DONE]'), out);
    expect(out.at(-1)).toEqual({ type: 'end', finishReason: 'length' });
  });

  it('treats [DONE] without a finish reason as an in-band failure', () => {
    const decoder = new ChatStreamDecoder({ toolCallIds: 'engine', idPrefix: 'c' });
    expect(decoder.push(msg('[DONE]'), [])).toEqual({ message: 'stream terminated without a finish reason' });
  });
});
