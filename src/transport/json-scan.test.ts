import { describe, expect, it } from 'vitest';
import { LITERAL, shapeReader, stringOtherThan } from './json-scan.ts';

// A shape like llama.cpp's partial event, and what JSON.parse makes of the same texts.
const read = shapeReader({ required: { name: 'content' }, fixed: { stop: LITERAL.false, object: stringOtherThan('error') }, forbidden: ['error'] });
function parsed(text: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const obj = value as Record<string, unknown>;
  if ('error' in obj || (obj['stop'] !== undefined && obj['stop'] !== false)) return undefined;
  if (obj['object'] !== undefined && (typeof obj['object'] !== 'string' || obj['object'] === 'error')) return undefined;
  return typeof obj['content'] === 'string' ? obj['content'] : undefined;
}

const base = '{"index":0,"content":" the","tokens":[9038],"stop":false,"id_slot":0,"tokens_predicted":1,"tokens_evaluated":18}';

/** Texts the reader must read, each to what JSON.parse gives. */
const READABLE = [
  base,
  '{"content":""}',
  '{"content":" a \\"quoted\\" word"}',
  '{"content":"back\\\\slash\\\\"}',
  '{"content":"line\\nbreak\\ttab\\r\\b\\f\\/"}',
  '{"content":"\\u00e9t\\u00C9"}',
  '{"content":"\\ud83d\\ude42 pair"}',
  '{"content":"lone \\ud83d high"}',
  '{"content":"lone \\ude42 low"}',
  '{"content":" café 日本 🙂 𝄞"}',
  '{"content":"\ud83d raw lone surrogate"}',
  '{"content":"\\u0000 escaped nul"}',
  '{"stop":false,"content":"key order"}',
  '{"tokens_predicted":3,"content":"x","stop":false,"stop":false}',
  ' \t\n{ "content" : "spaced" , "stop" :\r\nfalse , "n" : [ 1 , -2.5e+3 , 0 ] }\n ',
  '{"content":"x","e":-0,"f":1E-7,"g":0.25,"h":true,"i":null,"j":[],"k":"s","__future":"y"}',
  '{"content":"x","object":"text_completion"}',
  '{"content":"x","":"empty name"}',
];

/** Texts it must leave to JSON.parse (whatever JSON.parse then makes of them). */
const REFUSED = [
  '{"content":"a","content":"b"}', // JSON.parse keeps the last
  '{"cont\\u0065nt":"escaped name"}',
  '{"content":"x","st\\u006fp":true}',
  '{"content":"x","stop":true}',
  '{"content":"x","stop":null}',
  '{"content":"x","error":null}',
  '{"content":"x","object":"error"}',
  '{"content":"x","object":"err\\u006fr"}',
  '{"content":"x","nested":{"a":1}}',
  '{"content":"x","strings":["a"]}',
  '{"content":null}',
  '{"content":["x"]}',
  '{"stop":false}',
  '{}',
  '[{"content":"x"}]',
  '"content"',
  '{"content":"x",}',
  '{"content":"x"} trailing',
  '{"content":"x"',
  '{"content":"raw\ncontrol"}',
  '{"content":"bad \\x escape"}',
  '{"content":"short \\u12 escape"}',
  '{"content":"x","n":01}',
  '{"content":"x","n":1.}',
  '{"content":"x","n":-}',
  '{"content":"x","n":+1}',
  '{"content":"x","n":.5}',
  '{"content":"x","n":NaN}',
  '{"content":"x","b":True}',
  "{'content':'single quotes'}",
  '\ufeff{"content":"bom"}',
  '{"content":"x"}\u00a0',
];

describe('shapeReader', () => {
  it('reads every plain chunk to the string JSON.parse gives', () => {
    for (const text of READABLE) {
      const expected = parsed(text);
      expect(expected, text).toBeTypeOf('string');
      expect(read(text), text).toBe(expected);
    }
  });

  it('refuses duplicates, escaped names, pinned members with other values, nesting and invalid JSON', () => {
    for (const text of REFUSED) expect(read(text), text).toBeUndefined();
  });

  it('never reads a text differently from JSON.parse, over random edits of a chunk', () => {
    // Deterministic edits: insert, delete or replace one character with a JSON-significant one.
    const alphabet = ['"', '\\', ',', ':', '{', '}', '[', ']', ' ', '\n', 'u', '0', '1', 'e', '-', '.', 't', 'f', 'n', 'a', '\u0001', 'é'];
    let seed = 42;
    const next = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    let read_ = 0;
    for (let k = 0; k < 20_000; k++) {
      let text = k % 2 === 0 ? base : READABLE[next(READABLE.length)]!;
      for (let edits = 1 + next(3); edits > 0; edits--) {
        const at = next(text.length + 1);
        const ch = alphabet[next(alphabet.length)]!;
        const op = next(3);
        text = op === 0 ? text.slice(0, at) + ch + text.slice(at) : op === 1 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + ch + text.slice(at + 1);
      }
      const got = read(text);
      if (got !== undefined) {
        read_++;
        expect(got, text).toBe(parsed(text));
      }
    }
    // The edits must leave enough texts readable for the comparison to mean something.
    expect(read_).toBeGreaterThan(1_000);
  });

  it('refuses a shape whose member names it could not quote plainly', () => {
    expect(() => shapeReader({ required: { name: 'a"b' } })).toThrow(/plain identifier/);
  });

  it('reads a string inside a nested object or a one-element array, and refuses two elements', () => {
    const choices = shapeReader({ required: { name: 'choices', singleArray: { required: { name: 'text' }, fixed: { index: LITERAL.zero } } } });
    expect(choices('{"id":"c","choices":[{"index":0,"text":"hi"}],"usage":null}')).toBe('hi');
    expect(choices('{"choices":[ {"text":"hi"} ]}')).toBe('hi');
    expect(choices('{"choices":[{"index":1,"text":"hi"}]}')).toBeUndefined();
    expect(choices('{"choices":[{"index":0,"text":"a"},{"index":1,"text":"b"}]}')).toBeUndefined();
    expect(choices('{"choices":[]}')).toBeUndefined();
    const token = shapeReader({ required: { name: 'token', object: { required: { name: 'text' } } } });
    expect(token('{"index":1,"token":{"id":5,"text":"\\u00e9","logprob":-0.5},"details":null}')).toBe('é');
    expect(token('{"token":{"id":5}}')).toBeUndefined();
  });
});
