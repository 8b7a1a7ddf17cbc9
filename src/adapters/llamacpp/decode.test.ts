import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeCapture } from '../../transport/sse-capture.ts';
import { UpstreamFailure } from '../../transport/upstream-failure.ts';
import { LlamacppStreamDecoder } from './decode.ts';
import { llamacppError, llamacppErrorPolicy } from './errors.ts';

const dir = new URL('./fixtures/', import.meta.url);
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.sse'))
  .map((f) => f.slice(0, -4));

function decode(chunks: Uint8Array[]) {
  const decoder = new LlamacppStreamDecoder();
  const result = decodeCapture(decoder, chunks);
  const failure = result.error !== null
    ? new UpstreamFailure('in-band', 'in-band', { inBand: result.error })
    : result.complete ? undefined : new UpstreamFailure('truncated', 'truncated');
  const code = failure === undefined ? null : llamacppError(failure, decoder.tokens, llamacppErrorPolicy(1000)).code;
  return { ...result, code };
}

describe('llama.cpp golden fixtures', () => {
  it('has fixtures to check', () => {
    expect(names.length).toBeGreaterThanOrEqual(8);
  });

  for (const name of names) {
    const bytes = new Uint8Array(readFileSync(new URL(`${name}.sse`, dir)));
    const expected: unknown = JSON.parse(readFileSync(new URL(`${name}.json`, dir), 'utf8'));

    it(`decodes ${name} whole into the expected canonical events`, () => {
      expect(decode([bytes])).toEqual(expected);
    });

    // ORCH-0605
    it(`decodes ${name} identically when split at every byte boundary`, () => {
      for (let cut = 1; cut < bytes.length; cut++) {
        expect(decode([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(expected);
      }
    });

    it(`decodes ${name} identically when fed one byte at a time`, () => {
      expect(decode(Array.from(bytes, (_, i) => bytes.subarray(i, i + 1)))).toEqual(expected);
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
