import { describe, expect, it } from 'vitest';
import { decodeOutcome, goldenFixtures, splits } from '../../../test/support/adapter-test-kit.ts';
import { VllmStreamDecoder } from './decode.ts';
import { vllmError, vllmErrorPolicy } from './errors.ts';

const fixtures = goldenFixtures(new URL('./fixtures/', import.meta.url));
const policy = vllmErrorPolicy(1000);
const decode = (chunks: Uint8Array[]) => decodeOutcome(new VllmStreamDecoder(), chunks, (err, tokens) => vllmError(err, tokens, policy));

describe('vLLM golden fixtures', () => {
  it('has fixtures to check', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(8);
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

describe('VllmStreamDecoder', () => {
  const msg = (data: string, event?: string) => ({ event, data, id: undefined, retry: undefined });

  it('treats [DONE] without a finish reason as an in-band failure', () => {
    const decoder = new VllmStreamDecoder();
    expect(decoder.push(msg('{"choices":[{"index":0,"text":"a","finish_reason":null}]}'), [])).toBeUndefined();
    expect(decoder.push(msg('[DONE]'), [])).toEqual({ message: expect.stringContaining('without a finish reason') });
  });

  it('reads chat deltas with the same decoder', () => {
    const out: unknown[] = [];
    const decoder = new VllmStreamDecoder();
    decoder.push(msg('{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}'), out as never);
    decoder.push(msg('{"choices":[{"index":0,"delta":{"content":"Hé"},"finish_reason":"stop"}]}'), out as never);
    decoder.push(msg('[DONE]'), out as never);
    expect(out).toEqual([{ type: 'token', text: 'Hé' }, { type: 'end', finishReason: 'stop' }]);
  });

  it('ignores choices other than index 0 and reports a non-object message', () => {
    const out: unknown[] = [];
    const decoder = new VllmStreamDecoder();
    decoder.push(msg('{"choices":[{"index":1,"text":"other"}]}'), out as never);
    expect(out).toEqual([]);
    expect(decoder.push(msg('"text"'), [])).toEqual({ message: expect.stringContaining('not a JSON object') });
  });
});
