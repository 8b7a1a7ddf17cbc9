// The SSE test dialect of the transport suites: `data: <text>` is a token, `data: END`
// terminates, `data: ERR` is an in-band error. Plus the call and signal those suites send.

import type { SseMessage } from '../../src/transport/sse-parser.ts';
import type { SseDecoder } from '../../src/transport/sse-stream.ts';

export class WordDecoder implements SseDecoder<string> {
  complete = false;
  push(msg: SseMessage, out: string[]) {
    if (msg.data === 'ERR') return { message: 'bad' };
    if (msg.data === 'END') this.complete = true;
    out.push(msg.data);
    return undefined;
  }
  finish() {
    return this.complete;
  }
}

/** A signal that never aborts. */
export const never = new AbortController().signal;

/** A JSON POST to `path`. */
export const wordCall = (path: string) => ({ path, body: '{}', headers: { 'content-type': 'application/json' } });
