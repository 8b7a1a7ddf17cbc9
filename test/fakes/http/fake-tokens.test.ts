import { describe, expect, it } from 'vitest';
import { FAKE_VOCAB, commonPrefixLength, fakeCompletion, fakeTokenize } from './fake-tokens.ts';

describe('fake tokens', () => {
  it('are a pure function of (prompt, seed)', () => {
    expect(fakeCompletion('hello', 1, 32)).toEqual(fakeCompletion('hello', 1, 32));
    expect(fakeCompletion('hello', 2, 32)).not.toEqual(fakeCompletion('hello', 1, 32));
    expect(fakeCompletion('hellp', 1, 32)).not.toEqual(fakeCompletion('hello', 1, 32));
  });

  it('distinguish seeds above 2^32', () => {
    expect(fakeCompletion('x', 2 ** 32 + 5, 16)).not.toEqual(fakeCompletion('x', 5, 16));
  });

  it('include multibyte UTF-8 of every width', () => {
    const widths = new Set(FAKE_VOCAB.flatMap((p) => Array.from(p, (ch) => Buffer.byteLength(ch))));
    expect([...widths].sort()).toEqual([1, 2, 3, 4]);
  });

  it('re-tokenize generated text to its own ids so prefixes line up', () => {
    const text = fakeCompletion('p', 3, 20).join('');
    const ids = fakeTokenize(`prompt${text}`);
    expect(commonPrefixLength(ids, fakeTokenize(`prompt${text} next turn`))).toBe(ids.length);
    expect(fakeTokenize('ab🙂')).toEqual([100_000 + 97, 100_000 + 98, 100_000 + 0x1f642]);
  });
});
