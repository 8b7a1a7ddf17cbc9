import { describe, expect, it } from 'vitest';
import { decodeOutcome, goldenFixtures, splits } from '../../../test/support/adapter-test-kit.ts';
import { LlamacppStreamDecoder } from './decode.ts';
import { llamacppError, llamacppErrorPolicy } from './errors.ts';

const fixtures = goldenFixtures(new URL('./fixtures/', import.meta.url));
const policy = llamacppErrorPolicy(1000);
const decode = (chunks: Uint8Array[]) => decodeOutcome(new LlamacppStreamDecoder(), chunks, (err, tokens) => llamacppError(err, tokens, policy));

describe('llama.cpp golden fixtures', () => {
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

describe('LlamacppStreamDecoder', () => {
  const msg = (data: string, event?: string) => ({ event, data, id: undefined, retry: undefined });

  it('ignores a stray [DONE] and empty partials', () => {
    const out: unknown[] = [];
    const decoder = new LlamacppStreamDecoder();
    expect(decoder.push(msg('[DONE]'), out as never)).toBeUndefined();
    expect(decoder.push(msg('{"content":"","stop":false}'), out as never)).toBeUndefined();
    expect(out).toEqual([]);
  });

  it('reports a message that is not a JSON object as an in-band error', () => {
    expect(new LlamacppStreamDecoder().push(msg('[1,2]'), [])).toEqual({ message: expect.stringContaining('not a JSON object') });
  });

  it('reads an error event whose body is not JSON', () => {
    expect(new LlamacppStreamDecoder().push(msg('oops', 'error'), [])).toEqual({ message: expect.any(String) });
  });
});
