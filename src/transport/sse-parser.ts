// Incremental Server-Sent Events parser (WHATWG HTML §9.2.6 "event stream interpretation").
// Survives chunk boundaries anywhere: inside a line, inside CRLF, inside a UTF-8 sequence.
// Comment lines (":" keep-alives) are skipped; a message is dispatched on a blank line.

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

export class SseParser {
  private readonly decoder = new TextDecoder('utf-8');
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
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    const out: SseMessage[] = [];
    if (this.pendingCr) {
      // A CR ended the previous chunk; a LF starting this one belongs to the same line break.
      if (text.startsWith('\n')) text = text.slice(1);
      this.pendingCr = false;
    }
    this.buffer += text;
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const ch = this.buffer.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      this.line(this.buffer.slice(start, i), out);
      if (ch === 13) {
        if (i + 1 === this.buffer.length) this.pendingCr = true;
        else if (this.buffer.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  /** Flushes a decoder tail; a message without its closing blank line is discarded (per spec). */
  end(): SseMessage[] {
    const tail = this.decoder.decode();
    return tail ? this.push(tail) : [];
  }

  private addData(value: string): void {
    this.data = this.data === undefined ? value : `${this.data}\n${value}`;
  }

  private line(line: string, out: SseMessage[]): void {
    if (line.length === 0) {
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
    if (line.charCodeAt(0) === 58) return; // ":" comment / keep-alive
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    this.sawField = true;
    switch (field) {
      case 'data':
        this.addData(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.id = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        // Unknown fields are ignored (spec), but llama.cpp's older builds send `error: {...}`;
        // surface it as an event named after the field so adapters can read it.
        if (field === 'error') {
          this.event = 'error';
          this.addData(value);
        }
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
