// TGI `/generate_stream` SSE messages → canonical events (ENGINES.md §3). Pure: no I/O, no
// timers. Unknown keys (`top_tokens`, future fields) are ignored; special tokens (EOS) add no
// text. Every error on this route arrives in-band under HTTP 200 and is returned, not mapped.

import type { SseMessage } from '../../transport/sse-parser.ts';
import type { SseDecoder } from '../../transport/sse-stream.ts';
import type { InBandError } from '../../transport/upstream-failure.ts';
import { isRecord, numberField, parseJson, recordField, stringField, type JsonRecord } from '../../transport/json-fields.ts';
import type { CanonicalEvent, EngineProps } from '../contract.ts';

type EndEvent = Extract<CanonicalEvent, { type: 'end' }>;

export type TgiDecoded =
  | { kind: 'token'; text: string }
  /** The last event: it still carries the last token (no text when special) and the details. */
  | { kind: 'final'; text: string; end: EndEvent }
  | { kind: 'error'; error: InBandError }
  | { kind: 'ignore' };

const IGNORE: TgiDecoded = { kind: 'ignore' };

export function decodeTgiMessage(msg: SseMessage): TgiDecoded {
  if ((msg.event !== undefined && msg.event !== 'message') || msg.data.length === 0) return IGNORE;
  const value = parseJson(msg.data);
  if (!isRecord(value)) return { kind: 'error', error: { type: 'unreadable_event', message: msg.data } };
  if (value['error'] !== undefined && value['error'] !== null) {
    return { kind: 'error', error: { type: stringField(value, 'error_type') ?? 'unknown', message: String(value['error']) } };
  }
  const token = recordField(value, 'token');
  const text = token === undefined || token['special'] === true ? undefined : stringField(token, 'text');
  if (stringField(value, 'generated_text') === undefined) return text ? { kind: 'token', text } : IGNORE;
  return { kind: 'final', text: text ?? '', end: endEventOf(recordField(value, 'details')) };
}

/** `details` is present because we always ask for it; without it the stop is assumed natural. */
function endEventOf(details: JsonRecord | undefined): EndEvent {
  if (details === undefined) return { type: 'end', finishReason: 'stop' };
  // eos_token and stop_sequence are both natural stops; only `length` means truncation.
  const end: EndEvent = { type: 'end', finishReason: details['finish_reason'] === 'length' ? 'length' : 'stop' };
  const promptTokens = numberField(details, 'input_length');
  const completionTokens = numberField(details, 'generated_tokens');
  if (promptTokens !== undefined) end.promptTokens = promptTokens;
  if (completionTokens !== undefined) end.completionTokens = completionTokens;
  return end;
}

/** One stream's decoder: tokens, then exactly one `end`; no `[DONE]` follows on this route. */
export class TgiStreamDecoder implements SseDecoder<CanonicalEvent> {
  complete = false;
  /** Token events produced so far (decides WORKER_RESET vs. a pre-token error code). */
  tokens = 0;

  push(msg: SseMessage, out: CanonicalEvent[]): InBandError | undefined {
    const decoded = decodeTgiMessage(msg);
    switch (decoded.kind) {
      case 'ignore':
        return undefined;
      case 'token':
        this.tokens++;
        out.push({ type: 'token', text: decoded.text });
        return undefined;
      case 'final':
        if (decoded.text.length > 0) {
          this.tokens++;
          out.push({ type: 'token', text: decoded.text });
        }
        out.push(decoded.end);
        this.complete = true;
        return undefined;
      case 'error':
        return decoded.error;
    }
  }

  /** The router closes the stream right after the final event; closing before it is a break. */
  finish(): boolean {
    return this.complete;
  }
}

export type TgiInfo = { ok: true; props: EngineProps } | { ok: false; field: string };

/** `GET /info` (TGI router `Info`) → engine facts; names the first missing field otherwise. */
export function decodeTgiInfo(info: unknown, deterministic: boolean): TgiInfo {
  if (!isRecord(info)) return { ok: false, field: '(body is not a JSON object)' };
  const engineVersion = stringField(info, 'version');
  const model = stringField(info, 'model_id');
  const ctxMax = numberField(info, 'max_total_tokens');
  const slotsTotal = numberField(info, 'max_concurrent_requests');
  if (engineVersion === undefined) return { ok: false, field: 'version' };
  if (model === undefined) return { ok: false, field: 'model_id' };
  if (ctxMax === undefined || ctxMax <= 0) return { ok: false, field: 'max_total_tokens' };
  if (slotsTotal === undefined || slotsTotal <= 0) return { ok: false, field: 'max_concurrent_requests' };
  return { ok: true, props: { engineVersion, model, ctxMax, slotsTotal, deterministic } };
}
