// Hosted providers and Ollama speak only chat (issue 13): the completion workload (`prompt`
// without `chat`) is sent as a conversation of one user message, and its answer ends `stop` or
// `length` as completions do, the same narrowing as the OpenAI-compatible completions codec:
// `content_filter` and `tool_calls` read as `stop` (no tools were offered), `length` stays.

import type { CanonicalEvent, CanonicalRequest, ChatCanonicalRequest } from '../contract.ts';
import type { FrameDecoder } from '../../transport/body-pump.ts';
import type { SseMessage } from '../../transport/sse-parser.ts';
import type { InBandError } from '../../transport/upstream-failure.ts';

/** A decoder of frames `M` (SSE messages, NDJSON lines) that counts its output events. */
export interface CountingFrameDecoder<M> extends FrameDecoder<M, CanonicalEvent> {
  readonly tokens: number;
}

export function asChatRequest(req: CanonicalRequest): ChatCanonicalRequest {
  if (req.chat !== undefined) return { ...req, chat: req.chat };
  return {
    ...req,
    chat: { messages: [{ role: 'user', content: [{ type: 'text', text: req.prompt }] }], tools: [], toolChoice: { type: 'auto' }, responseFormat: { type: 'text' } },
  };
}

/** The chat decoder for a completion-workload request: end reasons narrowed to stop | length. */
export class CompletionEnds<M = SseMessage> implements CountingFrameDecoder<M> {
  private readonly inner: CountingFrameDecoder<M>;
  constructor(inner: CountingFrameDecoder<M>) {
    this.inner = inner;
  }
  get complete(): boolean {
    return this.inner.complete;
  }
  get tokens(): number {
    return this.inner.tokens;
  }
  push(msg: M, out: CanonicalEvent[]): InBandError | undefined {
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

/** A stop string only ever comes with `stop`, so the spread keeps what the engine named. */
function narrow(out: CanonicalEvent[], from: number): void {
  for (let i = from; i < out.length; i++) {
    const e = out[i];
    if (e?.type === 'end' && e.finishReason !== 'length' && e.finishReason !== 'stop') out[i] = { ...e, finishReason: 'stop' };
  }
}
