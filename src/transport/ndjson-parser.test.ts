import { describe, expect, it } from 'vitest';
import { NdjsonParser, parseNdjson, type NdjsonItem } from './ndjson-parser.ts';

const transcript =
  '{"model":"m","response":"h\u00e9llo \u{1F600}","done":false}\n' +
  '\n' +
  '{"model":"m","response":"\u65e5\u672c","done":false}\r\n' +
  'not json\n' +
  '{"model":"m","response":"","done":true,"eval_count":2}';

function parseAll(chunks: Uint8Array[]): NdjsonItem[] {
  const parser = new NdjsonParser();
  const out = chunks.flatMap((c) => parser.push(c));
  return [...out, ...parser.end()];
}

describe('NdjsonParser', () => {
  const bytes = new TextEncoder().encode(transcript);
  const whole = parseAll([bytes]);

  it('parses one value per line, skips blank lines and reports a line that is not JSON', () => {
    expect(whole).toEqual([
      { ok: true, value: { model: 'm', response: 'h\u00e9llo \u{1F600}', done: false } },
      { ok: true, value: { model: 'm', response: '\u65e5\u672c', done: false } },
      { ok: false, line: 'not json' },
      { ok: true, value: { model: 'm', response: '', done: true, eval_count: 2 } },
    ]);
  });

  it('gives the same items when split at every byte boundary (inside UTF-8 and CRLF)', () => {
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(parseAll([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(whole);
    }
  });

  it('gives the same items when fed one byte at a time', () => {
    expect(parseAll(Array.from(bytes, (_, i) => bytes.subarray(i, i + 1)))).toEqual(whole);
  });

  it('yields nothing for a stream of blank lines', () => {
    expect(parseAll([new TextEncoder().encode('\n\r\n\n')])).toEqual([]);
  });

  it('parses an async byte stream, flushing a last line without newline', async () => {
    async function* body(): AsyncGenerator<Uint8Array> {
      yield bytes.subarray(0, 7);
      yield bytes.subarray(7);
    }
    const items: NdjsonItem[] = [];
    for await (const item of parseNdjson(body())) items.push(item);
    expect(items).toEqual(whole);
  });
});
