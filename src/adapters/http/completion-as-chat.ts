// Hosted providers speak only chat (issue 13): the completion workload (`prompt` without
// `chat`) is sent as a conversation of one user message, and its answer ends `stop` or `length`
// as completions do (a provider's `content_filter` reads as `stop`; no tools were offered).

import type { CanonicalEvent, CanonicalRequest, ChatCanonicalRequest } from '../contract.ts';
import type { SseMessage } from '../../transport/sse-parser.ts';
import type { InBandError } from '../../transport/upstream-failure.ts';
import type { CountingDecoder } from './engine.ts';

export function asChatRequest(req: CanonicalRequest): ChatCanonicalRequest {
  if (req.chat !== undefined) return { ...req, chat: req.chat };
  return {
    ...req,
    chat: { messages: [{ role: 'user', content: [{ type: 'text', text: req.prompt }] }], tools: [], toolChoice: { type: 'auto' }, responseFormat: { type: 'text' } },
  };
}

/** The chat decoder for a completion-workload request: end reasons narrowed to stop | length. */
export class CompletionEnds implements CountingDecoder {
  private readonly inner: CountingDecoder;
  constructor(inner: CountingDecoder) {
    this.inner = inner;
  }
  get complete(): boolean {
    return this.inner.complete;
  }
  get tokens(): number {
    return this.inner.tokens;
  }
  push(msg: SseMessage, out: CanonicalEvent[]): InBandError | undefined {
    const from = out.length;
    const error = this.inner.push(msg, out);
    narrow(out, from);
    return error;
  }
  finish(out: CanonicalEvent[]): boolean {
    const from = out.length;
    const whole = this.inner.finish(out);
    narrow(out, from);
    return whole;
  }
}

function narrow(out: CanonicalEvent[], from: number): void {
  for (let i = from; i < out.length; i++) {
    const e = out[i];
    if (e?.type === 'end' && e.finishReason !== 'length') out[i] = { ...e, finishReason: 'stop' };
  }
}
