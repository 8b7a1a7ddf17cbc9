import { describe, expect, it } from 'vitest';
import { decodeOutcome, goldenFixtures, splits } from '../../../test/support/adapter-test-kit.ts';
import type { ChatStreamEvent } from '../contract.ts';
import { ChatStreamDecoder } from '../openai-compat/chat-decode.ts';
import { tgiChatError } from './chat-errors.ts';
import { tgiErrorPolicy } from './errors.ts';

const fixtures = goldenFixtures(new URL('./fixtures/chat/', import.meta.url));
const policy = tgiErrorPolicy(1000);
// TGI numbers tool calls "0", "1", ... in every answer, so the gateway mints ids (see chat-decode.ts).
const decode = (chunks: Uint8Array[]) =>
  decodeOutcome<ChatStreamEvent>(new ChatStreamDecoder({ toolCallIds: 'mint', idPrefix: 'call_t1' }), chunks, (err, tokens) => tgiChatError(err, tokens, policy));

describe('TGI Messages API golden fixtures', () => {
  it('has fixtures to check', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(4);
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
