import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalDigest, canonicalJson } from './canonical-json.ts';

describe('canonicalJson', () => {
  it('sorts keys at every depth and emits no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: true, y: null }], c: 'x' } })).toBe('{"a":{"c":"x","d":[1,{"y":null,"z":true}]},"b":1}');
  });

  it('gives the same text for objects that differ only in key order', () => {
    expect(canonicalJson({ x: 1, y: 2 })).toBe(canonicalJson({ y: 2, x: 1 }));
  });

  it('drops undefined members and writes undefined array slots as null', () => {
    expect(canonicalJson({ a: undefined, b: [undefined, 2] })).toBe('{"b":[null,2]}');
  });

  it('escapes strings the way JSON.stringify does', () => {
    expect(canonicalJson({ 'k"ey': 'line\nbreak \u00e9\u2028\u001f' })).toBe('{"k\\"ey":"line\\nbreak é\u2028\\u001f"}');
  });

  it('sorts keys by UTF-16 code unit, not by locale or code point', () => {
    expect(canonicalJson({ b: 1, B: 2, a: 3, _: 4 })).toBe('{"B":2,"_":4,"a":3,"b":1}');
    // U+1F600 is the surrogate pair D83D DE00, so it sorts before U+FFFD (by code point it would follow).
    expect(canonicalJson({ '\uFFFD': 1, '\u{1F600}': 2 })).toBe('{"\u{1F600}":2,"\uFFFD":1}');
  });

  it('writes numbers as ECMAScript does (RFC 8785 §3.2.2.3)', () => {
    expect(canonicalJson([1e21, 1e-7, 0.1, -0, 5e-324, 2 ** 53 - 1, 0.30000000000000004, -1.5e300, 100])).toBe(
      '[1e+21,1e-7,0.1,0,5e-324,9007199254740991,0.30000000000000004,-1.5e+300,100]',
    );
  });

  it('encodes a Date through its toJSON, as an ISO string', () => {
    expect(canonicalJson({ when: new Date(0) })).toBe('{"when":"1970-01-01T00:00:00.000Z"}');
  });

  it('refuses values JSON cannot represent with a TypeError instead of guessing', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(TypeError);
    expect(() => canonicalJson({ n: Number.POSITIVE_INFINITY })).toThrow(TypeError);
    expect(() => canonicalJson(10n)).toThrow(TypeError);
    expect(() => canonicalJson(undefined)).toThrow(TypeError);
    expect(() => canonicalJson({ s: 'lone \uD800' })).toThrow(TypeError);
    expect(() => canonicalJson({ ['\uDC00']: 1 })).toThrow(TypeError);
  });
});

describe('canonicalDigest', () => {
  it('is the sha256 hex of the canonical text, the same for any key order', () => {
    const text = '{"a":[1,"é"],"b":null}';
    expect(canonicalDigest({ b: null, a: [1, 'é'] })).toBe(createHash('sha256').update(text, 'utf8').digest('hex'));
    expect(canonicalDigest({ a: [1, 'é'], b: null })).toMatch(/^[0-9a-f]{64}$/);
  });
});
