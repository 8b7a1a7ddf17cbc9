// llama.cpp `/completion` stream → canonical events (ENGINES.md §1). Pure. Partial events carry
// `content` with `stop:false`; the final one has `stop:true`, `stop_type`, counts and `timings`
// and may still carry held-back text; there is no `[DONE]`. Errors arrive as
// `data: {"error":{...}}` or, on older builds, as an `error: {...}` line. `stop_type: "word"`
// (older builds: `stopped_word: true`) names the matched stop string in `stopping_word`.

import type { CanonicalEvent } from '../contract.ts';
import type { SseMessage } from '../../transport/sse-parser.ts';
import type { SseDecoder } from '../../transport/sse-stream.ts';
import type { InBandError } from '../../transport/upstream-failure.ts';
import { isRecord, numberField, parseJson, recordField, stringField, type JsonRecord } from '../../transport/json-fields.ts';
import { readErrorPayload, unwrapErrorBody } from '../openai-compat/error-body.ts';

type EndEvent = Extract<CanonicalEvent, { type: 'end' }>;

/**
 * `eos`/`word` are natural stops. `limit` is n_predict or the context running out; `none` on a
 * final event means generation was cut without a natural stop, so it is reported as length.
 */
function finishReasonOf(final: JsonRecord): EndEvent['finishReason'] {
  const type = stringField(final, 'stop_type');
  if (type === 'eos' || type === 'word') return 'stop';
  if (type !== undefined) return 'length';
  // Builds before `stop_type` had one boolean per reason.
  return final['stopped_eos'] === true || final['stopped_word'] === true ? 'stop' : 'length';
}

/** The stop string that ended generation; `stopping_word` is "" for every other stop type. */
function stopSequenceOf(final: JsonRecord): string | undefined {
  const type = stringField(final, 'stop_type');
  const byWord = type === undefined ? final['stopped_word'] === true : type === 'word';
  const word = stringField(final, 'stopping_word');
  return byWord && word !== undefined && word.length > 0 ? word : undefined;
}

/**
 * `timings.cache_n` is the prompt prefix reused from the slot's KV cache. `tokens_cached` is
 * NOT used: llama.cpp sets it to the slot's whole cache after the request (prompt + output).
 */
export function endEventOf(final: JsonRecord): EndEvent {
  const end: EndEvent = { type: 'end', finishReason: finishReasonOf(final) };
  const promptTokens = numberField(final, 'tokens_evaluated');
  const completionTokens = numberField(final, 'tokens_predicted');
  const timings = recordField(final, 'timings');
  const cachedTokens = timings === undefined ? undefined : numberField(timings, 'cache_n');
  if (promptTokens !== undefined) end.promptTokens = promptTokens;
  if (completionTokens !== undefined) end.completionTokens = completionTokens;
  if (cachedTokens !== undefined) end.cachedTokens = cachedTokens;
  // The slot that served the request: a session's next turn pins it (id_slot) to reuse its cache.
  const slotId = numberField(final, 'id_slot');
  if (slotId !== undefined && slotId >= 0) end.slotId = slotId;
  const stopSequence = stopSequenceOf(final);
  if (stopSequence !== undefined) end.stopSequence = stopSequence;
  return end;
}

/** A JSON integer as JSON writes it (no leading zero, no sign but minus). */
const INT = String.raw`-?(?:0|[1-9][0-9]*)`;
/**
 * A partial event exactly as llama-server writes it (server-task.cpp
 * `to_json_non_oaicompat_partial`, ordered members), with a `content` free of escapes: its
 * capture is the text JSON.parse would give. Any other message (escapes, extra members such as
 * `timings` or probabilities, older builds, errors) takes JSON.parse, so both paths decode alike.
 * Issue 14: one anchored match is ~6x cheaper than JSON.parse of the chunk, once per token.
 */
const PLAIN_PARTIAL = new RegExp(
  String.raw`^\{"index":${INT},"content":"([^"\\\x00-\x1f]*)","tokens":\[(?:${INT}(?:,${INT})*)?\],"stop":false,"id_slot":${INT},"tokens_predicted":${INT},"tokens_evaluated":${INT}\}$`,
);

export class LlamacppStreamDecoder implements SseDecoder<CanonicalEvent> {
  complete = false;
  /** Token events produced so far. */
  tokens = 0;

  push(msg: SseMessage, out: CanonicalEvent[]): InBandError | undefined {
    // Not sent by /completion, but harmless if a build ever adds it.
    if (msg.data === '[DONE]') return undefined;
    const plain = msg.event !== 'error' ? PLAIN_PARTIAL.exec(msg.data) : null;
    if (plain !== null) {
      this.token(plain[1] as string, out);
      return undefined;
    }
    const value = parseJson(msg.data);
    if (msg.event === 'error') return readErrorPayload(value);
    const error = unwrapErrorBody(value);
    if (error !== undefined) return error;
    if (!isRecord(value)) return { message: 'engine sent a stream message that is not a JSON object' };
    const content = stringField(value, 'content');
    if (content !== undefined) this.token(content, out);
    if (value['stop'] === true) {
      out.push(endEventOf(value));
      this.complete = true;
    }
    return undefined;
  }

  private token(text: string, out: CanonicalEvent[]): void {
    if (text.length === 0) return;
    out.push({ type: 'token', text });
    this.tokens++;
  }

  /** The server closes the stream right after the final event; closing before it is a break. */
  finish(): boolean {
    return this.complete;
  }
}
