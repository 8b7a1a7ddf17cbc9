import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeCapture } from '../../transport/sse-capture.ts';
import { UpstreamFailure } from '../../transport/upstream-failure.ts';
import { VllmStreamDecoder } from './decode.ts';
import { vllmError, vllmErrorPolicy } from './errors.ts';

const dir = new URL('./fixtures/', import.meta.url);
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.sse'))
  .map((f) => f.slice(0, -4));

function decode(chunks: Uint8Array[]) {
  const decoder = new VllmStreamDecoder();
  const result = decodeCapture(decoder, chunks);
  const failure = result.error !== null
    ? new UpstreamFailure('in-band', 'in-band', { inBand: result.error })
    : result.complete ? undefined : new UpstreamFailure('truncated', 'truncated');
  const code = failure === undefined ? null : vllmError(failure, decoder.tokens, vllmErrorPolicy(1000)).code;
  return { ...result, code };
}

describe('vLLM golden fixtures', () => {
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
