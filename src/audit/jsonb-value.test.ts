import { describe, expect, it } from 'vitest';
import { storableString, toJsonValue } from './jsonb-value.ts';

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
