// Incremental newline-delimited JSON parser (Ollama's native streaming framing). Survives chunk
// boundaries anywhere: inside a line, inside CRLF, inside a UTF-8 sequence. It splits and
// decodes only; a line that is not JSON is reported, never silently dropped.

import { Utf8Reads } from './utf8-reads.ts';

export type NdjsonItem = { ok: true; value: unknown } | { ok: false; line: string };

export class NdjsonParser {
  private readonly decoder = new Utf8Reads();
  private buffer = '';

  /** Feeds bytes (or already-decoded text); returns every complete line's value. */
  push(chunk: Uint8Array | string): NdjsonItem[] {
    this.buffer += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk);
    const out: NdjsonItem[] = [];
    let start = 0;
    for (let nl = this.buffer.indexOf('\n', start); nl !== -1; nl = this.buffer.indexOf('\n', start)) {
      this.line(this.buffer.slice(start, nl), out);
      start = nl + 1;
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  /** Flushes the decoder tail and a last line that had no trailing newline. */
  end(): NdjsonItem[] {
    const rest = this.buffer + this.decoder.end();
    this.buffer = '';
    const out: NdjsonItem[] = [];
    this.line(rest, out);
    return out;
  }

  private line(raw: string, out: NdjsonItem[]): void {
    // A CR before the LF belongs to the line break; blank lines carry nothing.
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim().length === 0) return;
    try {
      out.push({ ok: true, value: JSON.parse(line) as unknown });
    } catch {
      out.push({ ok: false, line });
    }
  }
}

/** Parses a byte stream into NDJSON items. */
export async function* parseNdjson(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<NdjsonItem> {
  const parser = new NdjsonParser();
  for await (const chunk of body) {
    for (const item of parser.push(chunk)) yield item;
  }
  for (const item of parser.end()) yield item;
}
