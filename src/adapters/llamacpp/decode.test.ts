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

describe('LlamacppStreamDecoder plain partials (read without JSON.parse)', () => {
  const msg = (data: string, event?: string) => ({ event, data, id: undefined, retry: undefined });
  /** What the decoder made of one message, and whether it asked JSON.parse. */
  const outcome = (data: string, event?: string) => {
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const out: unknown[] = [];
      const decoder = new LlamacppStreamDecoder();
      const error = decoder.push(msg(data, event), out as never);
      return { out, error, complete: decoder.complete, parsed: parse.mock.calls.length > 0 };
    } finally {
      parse.mockRestore();
    }
  };
  /** The reference: the same message decoded through JSON.parse alone. */
  const reference = (data: string) => {
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch {
      return { error: true, out: [] };
    }
    const content = (value as { content?: unknown }).content;
    return { error: false, out: typeof content === 'string' && content.length > 0 ? [{ type: 'token', text: content }] : [] };
  };
  const partial = (content: string) => `{"index":0,"content":${content},"tokens":[9038],"stop":false,"id_slot":0,"tokens_predicted":1,"tokens_evaluated":18}`;

  it('reads the text of a partial written as llama-server writes it without JSON.parse', () => {
    for (const text of [' Once', ' café', ' 日本', ' 🙂', '', 'a\u007fb', '\u2028']) {
      const got = outcome(partial(JSON.stringify(text)));
      expect(got).toEqual({ out: text === '' ? [] : [{ type: 'token', text }], error: undefined, complete: false, parsed: false });
    }
  });

  it('decodes every other message through JSON.parse, alike', () => {
    const others = [
      partial(String.raw`"a\"b"`),
      partial(String.raw`"tab\there"`),
      partial(String.raw`"\u00e9\ud83d\ude42"`),
      partial('"back\\\\slash"'),
      partial('"raw\u0001control"'),
      partial('"unterminated'),
      partial('" ok",'),
      '{"index":01,"content":" x","tokens":[1],"stop":false,"id_slot":0,"tokens_predicted":1,"tokens_evaluated":18}',
      '{"index":0,"content":" x","tokens":[01],"stop":false,"id_slot":0,"tokens_predicted":1,"tokens_evaluated":18}',
      '{"index":0,"content":" x","tokens":[1,],"stop":false,"id_slot":0,"tokens_predicted":1,"tokens_evaluated":18}',
      '{"index":0,"content":" x","tokens":[1],"stop":false,"id_slot":0,"tokens_predicted":1,"tokens_evaluated":18,"timings":{"predicted_n":1}}',
      '{"index":0,"content":" x","tokens":[1],"stop":false,"id_slot":0,"tokens_predicted":1,"tokens_evaluated":18,"content":" y"}',
      '{"content":" x","index":0,"tokens":[1],"stop":false,"id_slot":0,"tokens_predicted":1,"tokens_evaluated":18}',
      '{"index":0, "content":" x","tokens":[1],"stop":false,"id_slot":0,"tokens_predicted":1,"tokens_evaluated":18}',
      '{"index":0,"content":" x","tokens":[1],"stop":false,"id_slot":0,"tokens_predicted":1,"tokens_evaluated":18} ',
      '{"index":0,"content":" x","tokens":[1],"stop":false,"id_slot":0,"tokens_predicted":1,"tokens_evaluated":1.5}',
      '{"content":" x","stop":false,"id_slot":0,"multimodal":false}',
    ];
    for (const data of others) {
      const got = outcome(data);
      const want = reference(data);
      expect(got.parsed, data).toBe(true);
      expect(got.out, data).toEqual(want.out);
      expect(got.error !== undefined, data).toBe(want.error);
    }
  });

  it('never reads a final event or an error event as a plain partial', () => {
    const final = outcome('{"index":0,"content":" x","tokens":[1],"stop":true,"id_slot":0,"tokens_predicted":1,"tokens_evaluated":18}');
    expect(final).toMatchObject({ complete: true, parsed: true });
    expect(final.out).toEqual([{ type: 'token', text: ' x' }, expect.objectContaining({ type: 'end' })]);
    expect(outcome(partial('" x"'), 'error')).toMatchObject({ out: [], error: expect.anything(), parsed: true });
  });
});
