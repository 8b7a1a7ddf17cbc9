import { describe, expect, it, vi } from 'vitest';
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

const chunk = (choice: string, rest = ',"usage":null') => `{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[${choice}]${rest}}`;
const PLAIN = [
  chunk('{"index":0,"text":" Once","logprobs":null,"finish_reason":null,"stop_reason":null}'),
  chunk('{"text":"","index":0}', ''),
  chunk('{"index":0,"text":" \\"q\\" \\\\ \\n \\u00e9 \\ud83d\\ude42 日本 🙂","finish_reason":null}'),
];
const OTHER = [
  chunk('{"index":0,"text":" end","logprobs":null,"finish_reason":"length","stop_reason":null}'),
  chunk('{"index":0,"text":"","finish_reason":"abort"}'),
  chunk('{"index":0,"text":"x","logprobs":{"tokens":["x"]},"finish_reason":null}'),
  chunk('{"index":0,"text":"a"},{"index":1,"text":"b"}'),
  chunk('{"index":1,"text":"b"},{"index":0,"text":"a"}'),
  chunk('{"index":1,"text":"b"}'),
  chunk('{"index":0,"delta":{"content":"chat"}}'),
  '{"id":"cmpl-1","object":"text_completion","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}',
  chunk('{"index":0,"text":"x"}', ',"usage":{"prompt_tokens":3,"completion_tokens":1}'),
  '{"object":"error","message":"flat","type":"InternalServerError","code":500}',
  '{"object":"err\\u006fr","message":"escaped","code":500,"choices":[{"index":0,"text":"x"}]}',
  '{"error":{"message":"nested","code":400}}',
  chunk('{"index":0,"text":"x"}', ',"error":null'),
];

/** The events (and in-band error) one fresh decoder makes of one message. */
function decodeOne(data: string): unknown {
  const out: unknown[] = [];
  const error = new VllmStreamDecoder().push({ event: undefined, data, id: undefined, retry: undefined }, out as never[]);
  return { out, error };
}

/** The same chunk with an unknown nested member, which the token scanner leaves to JSON.parse. */
const viaJsonParse = (data: string) => data.replace('{', '{"__slow":{"x":[1]},');

describe('vLLM token chunks read without JSON.parse (issue 14)', () => {
  it('reads plain token chunks without JSON.parse', () => {
    const parse = vi.spyOn(JSON, 'parse');
    try {
      for (const data of PLAIN) expect(decodeOne(data), data).toEqual(decodeOne(viaJsonParse(data)));
      parse.mockClear();
      for (const data of PLAIN) decodeOne(data);
      expect(parse.mock.calls.filter(([text]) => PLAIN.includes(text as string))).toEqual([]);
    } finally {
      parse.mockRestore();
    }
  });

  it('decodes every other chunk exactly as JSON.parse does', () => {
    for (const data of OTHER) expect(decodeOne(data), data).toEqual(decodeOne(viaJsonParse(data)));
  });
});
