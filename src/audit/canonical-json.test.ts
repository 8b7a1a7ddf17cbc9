import { describe, expect, it } from 'vitest';
import { canonicalJson, storableString, toJsonValue } from './canonical-json.ts';

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
    expect(canonicalJson({ 'k"ey': 'line\nbreak \u00e9' })).toBe('{"k\\"ey":"line\\nbreak é"}');
  });

  it('sorts keys by code unit, not by locale', () => {
    expect(canonicalJson({ b: 1, B: 2, a: 3, _: 4 })).toBe('{"B":2,"_":4,"a":3,"b":1}');
  });

  it('refuses values JSON cannot represent instead of guessing', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(TypeError);
    expect(() => canonicalJson({ when: new Date(0) })).toThrow(TypeError);
    expect(() => canonicalJson(10n)).toThrow(TypeError);
  });
});

describe('toJsonValue', () => {
  it('normalises dates, non-finite numbers and undefined members', () => {
    expect(toJsonValue({ at: new Date(0), n: Number.POSITIVE_INFINITY, u: undefined })).toEqual({ at: '1970-01-01T00:00:00.000Z', n: null });
  });

  it('replaces characters jsonb would refuse so a record can always be stored', () => {
    expect(toJsonValue({ s: 'a\u0000b', lone: 'x\uD800y' })).toEqual({ s: 'a\uFFFDb', lone: 'x\uFFFDy' });
  });

  it('gives for a bare scalar exactly what the JSON round trip gives', () => {
    const roundTrip = (value: unknown): unknown => {
      const text = JSON.stringify(value, (_key, member: unknown) => (typeof member === 'string' ? storableString(member) : member));
      return text === undefined ? undefined : JSON.parse(text);
    };
    for (const value of ['', 'plain', 'a\u0000b', 'x\uD800y', '\uDC00', true, false, null, undefined, 0, -0, 1.5, -3, 1e300, Number.NaN, Number.NEGATIVE_INFINITY]) {
      expect(Object.is(toJsonValue(value), roundTrip(value)), String(value)).toBe(true);
    }
  });
});
