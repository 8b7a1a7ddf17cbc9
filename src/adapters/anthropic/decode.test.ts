import { describe, expect, it } from 'vitest';
import { decodeOutcome, goldenFixtures, splits } from '../../../test/support/adapter-test-kit.ts';
import type { ChatStreamEvent } from '../contract.ts';
import { CompletionEnds } from '../http/completion-as-chat.ts';
import { AnthropicStreamDecoder } from './decode.ts';
import { anthropicError, anthropicErrorPolicy } from './errors.ts';

const fixtures = goldenFixtures(new URL('./fixtures/', import.meta.url));
const policy = anthropicErrorPolicy(1000, () => []);
const decode = (chunks: Uint8Array[]) =>
  decodeOutcome<ChatStreamEvent>(new AnthropicStreamDecoder(), chunks, (err, tokens) => anthropicError(err, tokens, policy));

describe('Anthropic Messages golden fixtures', () => {
  it('has fixtures to check', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(7);
  });

  for (const { name, bytes, expected } of fixtures) {
    it(`decodes ${name} whole into the expected canonical events`, () => {
      expect(decode([bytes])).toEqual(expected);
    });

    it(`decodes ${name} identically when split at every byte boundary and fed one byte at a time`, () => {
      for (const chunks of splits(bytes)) expect(decode(chunks)).toEqual(expected);
    });
  }
});

describe('a completion (non-chat) request', () => {
  const endOf = (name: string, completion: boolean) => {
    const fixture = fixtures.find((f) => f.name === name);
    if (fixture === undefined) throw new Error(`no fixture ${name}`);
    const decoder = completion ? new CompletionEnds(new AnthropicStreamDecoder()) : new AnthropicStreamDecoder();
    return decodeOutcome<ChatStreamEvent>(decoder, [fixture.bytes], (err, tokens) => anthropicError(err, tokens, policy)).events.at(-1);
  };

  it('keeps the matched stop sequence and narrows refusal and tool_use to stop', () => {
    expect(endOf('stop-sequence', true)).toMatchObject({ type: 'end', finishReason: 'stop', stopSequence: '4' });
    expect(endOf('thinking-unknown-event-refusal', true)).toMatchObject({ type: 'end', finishReason: 'stop' });
    expect(endOf('tool-use', true)).toMatchObject({ type: 'end', finishReason: 'stop' });
    expect(endOf('tool-use', false)).toMatchObject({ type: 'end', finishReason: 'tool_calls' });
  });
});

describe('AnthropicStreamDecoder', () => {
  const msg = (type: string, value: Record<string, unknown>) => ({ event: type, data: JSON.stringify({ type, ...value }), id: undefined, retry: undefined });

  it('refuses tool input for a block that is not a tool use', () => {
    const decoder = new AnthropicStreamDecoder();
    expect(decoder.push(msg('content_block_delta', { index: 3, delta: { type: 'input_json_delta', partial_json: '{' } }), [])).toEqual({ message: 'provider sent tool input for a block that is not a tool use' });
  });

  it('refuses message_stop without a stop reason', () => {
    expect(new AnthropicStreamDecoder().push(msg('message_stop', {}), [])).toEqual({ message: 'stream ended without a stop reason' });
  });

  it('refuses a tool use block without an id', () => {
    const decoder = new AnthropicStreamDecoder();
    expect(decoder.push(msg('content_block_start', { index: 0, content_block: { type: 'tool_use', name: 'f', input: {} } }), [])).toEqual({ message: 'provider began tool use block 0 without an id or name' });
  });
});
