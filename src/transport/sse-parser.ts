// Incremental Server-Sent Events parser (WHATWG HTML §9.2.6 "event stream interpretation").
// Survives chunk boundaries anywhere: inside a line, inside CRLF, inside a UTF-8 sequence.
// Comment lines (":" keep-alives) are skipped; a message is dispatched on a blank line.

import { Utf8Reads } from './utf8-reads.ts';

export interface SseMessage {
  /** `event:` field; undefined means the default type "message". */
  event: string | undefined;
  /** `data:` lines joined with "\n". */
  data: string;
  /** `id:` field of this message, if it carried one. */
  id: string | undefined;
  /** `retry:` field in ms, if present and valid. */
  retry: number | undefined;
}

/** True when the field name `text[start, start + length)` is `name`. */
function fieldIs(text: string, start: number, length: number, name: string): boolean {
  return length === name.length && text.startsWith(name, start);
}

export class SseParser {
  private readonly decoder = new Utf8Reads();
  private buffer = '';
  private pendingCr = false;
  private event: string | undefined;
  /** `data:` lines joined so far; undefined until the message has one. */
  private data: string | undefined;
  private id: string | undefined;
  private retry: number | undefined;
  private sawField = false;

  /** Feeds bytes (or already-decoded text); returns every message completed by them. */
  push(chunk: Uint8Array | string): SseMessage[] {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk);
    const out: SseMessage[] = [];
    if (this.pendingCr) {
      // A CR ended the previous chunk; a LF starting this one belongs to the same line break.
      if (text.startsWith('\n')) text = text.slice(1);
      this.pendingCr = false;
    }
    const buffer = this.buffer === '' ? text : this.buffer + text;
    // Line ends are found with indexOf, not a loop over every character: this runs for every
    // engine read of every stream (issue 14), and engines send LF only, so the CR search
    // usually runs once per read and finds none.
    let start = 0;
    let cr = buffer.indexOf('\r');
    for (;;) {
      const lf = buffer.indexOf('\n', start);
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        this.line(buffer, start, cr, out);
        if (cr + 1 === buffer.length) this.pendingCr = true;
        start = buffer.charCodeAt(cr + 1) === 10 ? cr + 2 : cr + 1;
        cr = buffer.indexOf('\r', start);
      } else if (lf !== -1) {
        this.line(buffer, start, lf, out);
        start = lf + 1;
      } else {
        break;
      }
    }
    this.buffer = buffer.slice(start);
    return out;
  }

  /** Flushes a decoder tail; a message without its closing blank line is discarded (per spec). */
  end(): SseMessage[] {
    const tail = this.decoder.end();
    return tail ? this.push(tail) : [];
  }

  private addData(value: string): void {
    this.data = this.data === undefined ? value : `${this.data}\n${value}`;
  }

  /** Interprets the line `text[start, end)`; read in place, so only a field's value is copied. */
  private line(text: string, start: number, end: number, out: SseMessage[]): void {
    if (start === end) {
      if (this.sawField && (this.data !== undefined || this.event !== undefined || this.id !== undefined)) {
        out.push({ event: this.event, data: this.data ?? '', id: this.id, retry: this.retry });
      }
      this.event = undefined;
      this.data = undefined;
      this.id = undefined;
      this.retry = undefined;
      this.sawField = false;
      return;
    }
    if (text.charCodeAt(start) === 58) return; // ":" comment / keep-alive
    let colon = text.indexOf(':', start);
    if (colon === -1 || colon > end) colon = end;
    let valueStart = colon + 1;
    if (valueStart < end && text.charCodeAt(valueStart) === 32) valueStart++;
    const value = valueStart < end ? text.slice(valueStart, end) : '';
    const fieldLength = colon - start;
    this.sawField = true;
    if (fieldIs(text, start, fieldLength, 'data')) {
      this.addData(value);
    } else if (fieldIs(text, start, fieldLength, 'event')) {
      this.event = value;
    } else if (fieldIs(text, start, fieldLength, 'id')) {
      if (!value.includes('\0')) this.id = value;
    } else if (fieldIs(text, start, fieldLength, 'retry')) {
      if (/^\d+$/.test(value)) this.retry = Number(value);
    } else if (fieldIs(text, start, fieldLength, 'error')) {
      // Unknown fields are ignored (spec), but llama.cpp's older builds send `error: {...}`;
      // surface it as an event named after the field so adapters can read it.
      this.event = 'error';
      this.addData(value);
    }
  }
}

/** Parses a byte stream into SSE messages. */
export async function* parseSse(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<SseMessage> {
  const parser = new SseParser();
  for await (const chunk of body) {
    for (const message of parser.push(chunk)) yield message;
  }
  for (const message of parser.end()) yield message;
}
