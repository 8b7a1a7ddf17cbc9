import { describe, expect, it } from 'vitest';
import { parsePromText, parseSampleLine, sampleValue } from './prom-text.ts';

describe('parsePromText', () => {
  it('groups histogram samples under their family and keeps help and type', () => {
    const parsed = parsePromText([
      '# HELP x_seconds Wait\\ntime.',
      '# TYPE x_seconds histogram',
      'x_seconds_bucket{le="1"} 2',
      'x_seconds_bucket{le="+Inf"} 3',
      'x_seconds_sum 4.5',
      'x_seconds_count 3',
      '# EOF',
    ].join('\n'));
    expect(parsed.errors).toEqual([]);
    expect([...parsed.families.keys()]).toEqual(['x_seconds']);
    const family = parsed.families.get('x_seconds');
    expect(family?.help).toBe('Wait\ntime.');
    expect(family?.type).toBe('histogram');
    expect(family?.samples.map((s) => s.name)).toEqual(['x_seconds_bucket', 'x_seconds_bucket', 'x_seconds_sum', 'x_seconds_count']);
    expect(sampleValue(parsed, 'x_seconds_bucket', { le: '+Inf' })).toBe(3);
  });

  it('reads escaped label values, colons in names, timestamps and special floats', () => {
    expect(parseSampleLine('vllm:x{model_name="a \\"b\\" \\\\ c\\nd",engine="0"} 1.5e+3 1712345678000')).toEqual({
      name: 'vllm:x', labels: { model_name: 'a "b" \\ c\nd', engine: '0' }, value: 1500,
    });
    expect(parseSampleLine('a{} +Inf')).toEqual({ name: 'a', labels: {}, value: Infinity });
    expect(parseSampleLine('a -Inf')).toMatchObject({ value: -Infinity });
    expect(parseSampleLine('a Nan')).toMatchObject({ value: NaN });
  });

  it('reports malformed lines with their line number and keeps going', () => {
    const parsed = parsePromText('ok 1\nbad{l="x} 1\n9bad 1\nno_value\nok2 2\n');
    expect(parsed.errors).toHaveLength(3);
    expect(parsed.errors[0]).toMatch(/^line 2:/);
    expect(sampleValue(parsed, 'ok2')).toBe(2);
  });
});
