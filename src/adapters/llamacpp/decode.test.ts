import { describe, expect, it, vi } from 'vitest';
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

const PLAIN = [
  '{"index":0,"content":" Once","tokens":[9038],"stop":false,"id_slot":0,"tokens_predicted":1,"tokens_evaluated":18}',
  '{"content":"","tokens":[],"stop":false}',
  '{"stop":false,"content":" \\"q\\" \\\\ \\n \\u00e9 \\ud83d\\ude42 日本 🙂"}',
  '{ "content" : " spaced" }',
];
const OTHER = [
  '{"index":0,"content":"","tokens":[],"id_slot":0,"stop":true,"model":"m","tokens_predicted":2,"tokens_evaluated":18,"stop_type":"eos"}',
  '{"content":" last","stop":true,"stop_type":"limit","tokens_predicted":1,"tokens_evaluated":3}',
  '{"content":"a","content":"b","stop":false}',
  '{"cont\\u0065nt":"escaped name","stop":false}',
  '{"content":"x","stop":false,"stop":true,"stop_type":"word"}',
  '{"error":{"code":500,"message":"boom","type":"server_error"}}',
  '{"content":"x","error":null}',
  '{"content":"x","object":"error","message":"flat"}',
  '{"content":7,"stop":false}',
  '{"content":"x","stop":false,"n_probs":[{"tok":1}]}',
];

/** The events (and in-band error) one fresh decoder makes of one message. */
function decodeOne(data: string): unknown {
  const out: unknown[] = [];
  const error = new LlamacppStreamDecoder().push({ event: undefined, data, id: undefined, retry: undefined }, out as never[]);
  return { out, error };
}

/** The same chunk with an unknown nested member, which the token scanner leaves to JSON.parse. */
const viaJsonParse = (data: string) => data.replace('{', '{"__slow":{"x":[1]},');

describe('llama.cpp token chunks read without JSON.parse (issue 14)', () => {
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
