import { describe, expect, it } from 'vitest';
import { SseParser, type SseMessage } from './sse-parser.ts';

const transcript =
  ': keep-alive\n\nid: 1\nevent: token\ndata: {"t":"h\u00e9llo \u{1F600}","i":0}\n\n' +
  'event: end\r\ndata: line one\r\ndata: line two\r\nid: 2\r\n\r\n' +
  'data: plain\n\n';

function parseAll(chunks: Uint8Array[]): SseMessage[] {
  const parser = new SseParser();
  const out = chunks.flatMap((c) => parser.push(c));
  return [...out, ...parser.end()];
}

describe('SseParser', () => {
  const bytes = new TextEncoder().encode(transcript);
  const whole = parseAll([bytes]);

  it('parses events, ids, multi-line data and skips comments', () => {
    expect(whole).toEqual([
      { event: 'token', data: '{"t":"h\u00e9llo \u{1F600}","i":0}', id: '1', retry: undefined },
      { event: 'end', data: 'line one\nline two', id: '2', retry: undefined },
      { event: undefined, data: 'plain', id: undefined, retry: undefined },
    ]);
  });

  // ORCH-0605
  it('gives the same messages when split at every byte boundary (inside UTF-8 and CRLF)', () => {
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(parseAll([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(whole);
    }
  });

  it('gives the same messages when fed one byte at a time', () => {
    const singles = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
    expect(parseAll(singles)).toEqual(whole);
  });

  it('ends lines at a lone CR, a lone LF and CRLF alike, wherever the chunks are cut', () => {
    const mixed = new TextEncoder().encode('data: a\rdata: b\n\r\rid: 3\r\ndata: c\r\n\ndata: d\n\r');
    const expected = [
      { event: undefined, data: 'a\nb', id: undefined, retry: undefined },
      { event: undefined, data: 'c', id: '3', retry: undefined },
      { event: undefined, data: 'd', id: undefined, retry: undefined },
    ];
    expect(parseAll([mixed])).toEqual(expected);
    for (let cut = 1; cut < mixed.length; cut++) {
      expect(parseAll([mixed.subarray(0, cut), mixed.subarray(cut)])).toEqual(expected);
    }
  });

  it('drops a message that never got its closing blank line', () => {
    expect(parseAll([new TextEncoder().encode('data: partial\n')])).toEqual([]);
  });

  it('surfaces the legacy llama.cpp `error:` line as an error event', () => {
    expect(parseAll([new TextEncoder().encode('error: {"code":500}\n\n')])).toEqual([
      { event: 'error', data: '{"code":500}', id: undefined, retry: undefined },
    ]);
  });

  it('reads field names exactly, lines without a colon as empty values, and only one leading space', () => {
    const text =
      'data\nevent\nretry: 15\nid: 7\n\n' + // names alone: empty data and event
      'dat: no\ndatax: no\nevents: no\ndata:  two spaces\ndata:a:b: c\n\n' +
      'idx\ndata: after a colon-less line\nretry: 1x\nid: a\u0000b\n\n';
    expect(parseAll([new TextEncoder().encode(text)])).toEqual([
      { event: '', data: '', id: '7', retry: 15 },
      { event: undefined, data: ' two spaces\na:b: c', id: undefined, retry: undefined },
      { event: undefined, data: 'after a colon-less line', id: undefined, retry: undefined },
    ]);
  });
});
