// Gemini `streamGenerateContent?alt=sse` → canonical events (ENGINES.md §9). Pure. Every `data:`
// is a whole GenerateContentResponse; text parts become tokens (thought parts are skipped),
// function calls arrive whole and become one tool_call_delta each with the full arguments JSON.
// There is no terminator: the stream is whole when the body ends after a `finishReason`. The
// reason is UPPERCASE and `STOP` also ends a turn of function calls; `usageMetadata` (on the
// last chunk) gives the counts. A blocked prompt has no candidates, only `promptFeedback`.
// `STOP` does not say which stop sequence matched, so no end names one. A completion (non-chat)
// request ends `stop` or `length` only: the adapter wraps this decoder in CompletionEnds, which
// reads `content_filter` (SAFETY, RECITATION, ...) and `tool_calls` as `stop`.

import type { SseMessage } from '../../transport/sse-parser.ts';
import type { SseDecoder } from '../../transport/sse-stream.ts';
import type { InBandError } from '../../transport/upstream-failure.ts';
import { isRecord, numberField, parseJson, recordField, stringField, type JsonRecord } from '../../transport/json-fields.ts';
import type { CanonicalRequest, ChatEndEvent, ChatStreamEvent } from '../contract.ts';
import { CompletionEnds, type CountingFrameDecoder } from '../http/completion-as-chat.ts';
import { readGoogleError } from './errors.ts';

type Finish = ChatEndEvent['finishReason'];

/** google.ai.generativelanguage FinishReason → ours; `failed` = the answer is not usable. */
const FINISH: Record<string, Finish | 'failed'> = {
  STOP: 'stop',
  MAX_TOKENS: 'length',
  SAFETY: 'content_filter',
  RECITATION: 'content_filter',
  BLOCKLIST: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  SPII: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
  LANGUAGE: 'content_filter',
  MALFORMED_FUNCTION_CALL: 'failed',
  UNEXPECTED_TOOL_CALL: 'failed',
  TOO_MANY_TOOL_CALLS: 'failed',
};

type Usage = Pick<ChatEndEvent, 'promptTokens' | 'completionTokens' | 'cachedTokens'>;

function readUsage(meta: JsonRecord): Usage {
  const prompt = numberField(meta, 'promptTokenCount');
  const candidates = numberField(meta, 'candidatesTokenCount');
  // Thinking tokens are output the provider bills; they are not in candidatesTokenCount.
  const thoughts = numberField(meta, 'thoughtsTokenCount') ?? 0;
  const cached = numberField(meta, 'cachedContentTokenCount');
  return {
    ...(prompt === undefined ? {} : { promptTokens: prompt }),
    ...(candidates === undefined ? {} : { completionTokens: candidates + thoughts }),
    ...(cached === undefined ? {} : { cachedTokens: cached }),
  };
}

export interface GeminiDecoderOptions {
  /** Prefix of minted call ids (Gemini's `functionCall.id` is optional); the task id keeps them unique. */
  idPrefix: string;
}

export class GeminiStreamDecoder implements SseDecoder<ChatStreamEvent> {
  complete = false;
  /** Output events so far: after the first, a failure is WORKER_RESET. */
  tokens = 0;
  private calls = 0;
  private finishReason: Finish | undefined;
  private usage: Usage = {};
  private readonly idPrefix: string;

  constructor(options: GeminiDecoderOptions) {
    this.idPrefix = options.idPrefix;
  }

  push(msg: SseMessage, out: ChatStreamEvent[]): InBandError | undefined {
    const chunk = parseJson(msg.data);
    if (!isRecord(chunk)) return { message: 'provider sent a stream message that is not a JSON object' };
    const error = readGoogleError(chunk);
    if (error !== undefined) return error;
    const meta = recordField(chunk, 'usageMetadata');
    if (meta !== undefined) this.usage = { ...this.usage, ...readUsage(meta) };
    const candidates = chunk['candidates'];
    const candidate = Array.isArray(candidates) ? candidates.find((c) => isRecord(c) && (c['index'] ?? 0) === 0) : undefined;
    if (!isRecord(candidate)) {
      const feedback = recordField(chunk, 'promptFeedback');
      if (feedback !== undefined && stringField(feedback, 'blockReason') !== undefined) this.finishReason = 'content_filter';
      return undefined;
    }
    const parts = recordField(candidate, 'content')?.['parts'];
    if (Array.isArray(parts)) for (const part of parts) this.part(part, out);
    const reason = stringField(candidate, 'finishReason');
    if (reason === undefined || reason === 'FINISH_REASON_UNSPECIFIED') return undefined;
    const mapped = Object.hasOwn(FINISH, reason) ? FINISH[reason] : 'stop';
    if (mapped === 'failed') return { message: `provider finished the answer with ${reason}` };
    this.finishReason = mapped === 'stop' && this.calls > 0 ? 'tool_calls' : mapped;
    return undefined;
  }

  /** No terminator: a body that ends after a finish reason is whole, before one it was cut. */
  finish(out: ChatStreamEvent[]): boolean {
    if (this.complete) return true;
    if (this.finishReason === undefined) return false;
    this.complete = true;
    out.push({ type: 'end', finishReason: this.finishReason, ...this.usage });
    return true;
  }

  private part(part: unknown, out: ChatStreamEvent[]): void {
    if (!isRecord(part)) return;
    const text = stringField(part, 'text');
    if (text !== undefined && text.length > 0 && part['thought'] !== true) {
      out.push({ type: 'token', text });
      this.tokens++;
    }
    const call = recordField(part, 'functionCall');
    const name = call && stringField(call, 'name');
    if (call === undefined || name === undefined) return;
    const id = stringField(call, 'id');
    const index = this.calls++;
    const args = recordField(call, 'args') ?? {};
    out.push({ type: 'tool_call_delta', index, id: id !== undefined && id.length > 0 ? id : `${this.idPrefix}_${index}`, name, arguments: JSON.stringify(args) });
    this.tokens++;
  }
}

/** The decoder for one request: a completion (non-chat) request's ends narrowed to stop | length. */
export function geminiDecoder(req: CanonicalRequest): CountingFrameDecoder<SseMessage> {
  const decoder = new GeminiStreamDecoder({ idPrefix: `call_${req.taskId}` });
  return req.chat === undefined ? new CompletionEnds(decoder) : decoder;
}
