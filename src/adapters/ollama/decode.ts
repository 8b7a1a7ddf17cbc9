// Ollama `/api/chat` NDJSON stream → canonical events (ENGINES.md §5). Pure. Each line is a
// ChatResponse: `message.content` pieces become tokens (`thinking` is skipped), `message.tool_calls`
// arrive whole with `arguments` as an object and become one tool_call_delta each. The line with
// `done: true` ends the stream with `done_reason` and the counts — which are omitempty, so a
// fully cached prompt has no `prompt_eval_count`. A `{"error":"..."}` line is an in-band failure
// (the status stays 200). `done_reason` "load"/"unload" answers no question: a failure.
// `done_reason: "stop"` does not say which stop string matched, so no end names one. A completion
// (non-chat) request ends `stop` or `length` only: the adapter wraps this decoder in
// CompletionEnds, which reads `tool_calls` as `stop`.

import type { NdjsonItem } from '../../transport/ndjson-parser.ts';
import type { NdjsonDecoder } from '../../transport/ndjson-stream.ts';
import type { InBandError } from '../../transport/upstream-failure.ts';
import { isRecord, numberField, recordField, stringField } from '../../transport/json-fields.ts';
import type { CanonicalRequest, ChatEndEvent, ChatStreamEvent } from '../contract.ts';
import { CompletionEnds, type CountingFrameDecoder } from '../http/completion-as-chat.ts';

export interface OllamaDecoderOptions {
  /** Prefix of minted call ids (older Ollama sends none); the task id keeps them unique. */
  idPrefix: string;
}

export class OllamaStreamDecoder implements NdjsonDecoder<ChatStreamEvent> {
  complete = false;
  /** Output events so far: after the first, a failure is WORKER_RESET. */
  tokens = 0;
  private calls = 0;
  private readonly idPrefix: string;

  constructor(options: OllamaDecoderOptions) {
    this.idPrefix = options.idPrefix;
  }

  push(item: NdjsonItem, out: ChatStreamEvent[]): InBandError | undefined {
    if (!item.ok) return { message: 'engine sent a line that is not JSON' };
    const line = item.value;
    if (!isRecord(line)) return { message: 'engine sent a line that is not a JSON object' };
    const error = line['error'];
    if (error !== undefined) return { message: typeof error === 'string' ? error : 'engine error without a message' };
    const message = recordField(line, 'message');
    if (message !== undefined) {
      const content = stringField(message, 'content');
      if (content !== undefined && content.length > 0) {
        out.push({ type: 'token', text: content });
        this.tokens++;
      }
      const calls = message['tool_calls'];
      if (Array.isArray(calls)) {
        for (const call of calls) {
          const failed = this.toolCall(call, out);
          if (failed !== undefined) return failed;
        }
      }
    }
    if (line['done'] !== true) return undefined;
    this.complete = true;
    const reason = stringField(line, 'done_reason');
    if (reason === 'load' || reason === 'unload') return { message: `engine ended the request with done_reason "${reason}" and no answer` };
    out.push(this.endEvent(reason, line));
    return undefined;
  }

  /** The stream is whole only with its `done: true` line. */
  finish(): boolean {
    return this.complete;
  }

  private toolCall(call: unknown, out: ChatStreamEvent[]): InBandError | undefined {
    const fn = isRecord(call) ? recordField(call, 'function') : undefined;
    const name = fn && stringField(fn, 'name');
    if (fn === undefined || name === undefined || name.length === 0) return { message: 'engine sent a tool call without a function name' };
    const args = fn['arguments'];
    // Arguments are an object on the wire; a string (seen from proxies) is passed through as written.
    const text = typeof args === 'string' ? args : JSON.stringify(isRecord(args) ? args : {});
    const id = isRecord(call) ? stringField(call, 'id') : undefined;
    const index = this.calls++;
    out.push({ type: 'tool_call_delta', index, id: id !== undefined && id.length > 0 ? id : `${this.idPrefix}_${index}`, name, arguments: text });
    this.tokens++;
    return undefined;
  }

  private endEvent(reason: string | undefined, line: Record<string, unknown>): ChatEndEvent {
    const finishReason: ChatEndEvent['finishReason'] = reason === 'length' ? 'length' : this.calls > 0 ? 'tool_calls' : 'stop';
    const prompt = numberField(line, 'prompt_eval_count');
    const completion = numberField(line, 'eval_count');
    return {
      type: 'end',
      finishReason,
      ...(prompt === undefined ? {} : { promptTokens: prompt }),
      ...(completion === undefined ? {} : { completionTokens: completion }),
    };
  }
}

/** The decoder for one request: a completion (non-chat) request's ends narrowed to stop | length. */
export function ollamaDecoder(req: CanonicalRequest): CountingFrameDecoder<NdjsonItem> {
  const decoder = new OllamaStreamDecoder({ idPrefix: `call_${req.taskId}` });
  return req.chat === undefined ? new CompletionEnds(decoder) : decoder;
}
