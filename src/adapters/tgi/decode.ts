// TGI `/generate_stream` SSE messages → canonical events. Pure: no I/O, no timers. Tolerates
// unknown keys (`top_tokens`, future fields); special tokens (EOS) produce no text. All errors
// on this route arrive in-band under HTTP 200 and are handed to errors.ts, never rendered here.

import type { SseMessage } from '../../transport/sse-parser.ts';
import type { CanonicalEvent, EngineProps } from '../contract.ts';
import { tgiStreamError, type TgiWireError } from './errors.ts';

type EndEvent = Extract<CanonicalEvent, { type: 'end' }>;

export type TgiDecoded =
  | { kind: 'token'; text: string }
  /** The last event: it still carries the last token (empty text when special) and the details. */
  | { kind: 'final'; text: string; end: EndEvent }
  | { kind: 'error'; error: TgiWireError }
  | { kind: 'ignore' };

const IGNORE: TgiDecoded = { kind: 'ignore' };

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function decodeTgiMessage(msg: SseMessage): TgiDecoded {
  if (msg.event !== undefined && msg.event !== 'message') return IGNORE;
  if (msg.data.length === 0) return IGNORE;
  let value: unknown;
  try {
    value = JSON.parse(msg.data);
  } catch {
    return { kind: 'error', error: { message: msg.data, type: 'unreadable_event' } };
  }
  if (!isObject(value)) return { kind: 'error', error: { message: msg.data, type: 'unreadable_event' } };
  if (value.error !== undefined && value.error !== null) {
    return {
      kind: 'error',
      error: { message: String(value.error), type: typeof value.error_type === 'string' ? value.error_type : 'unknown' },
    };
  }
  const text = tokenText(value.token);
  if (typeof value.generated_text !== 'string') return text === undefined ? IGNORE : { kind: 'token', text };
  return { kind: 'final', text: text ?? '', end: endEvent(value.details) };
}

function tokenText(token: unknown): string | undefined {
  if (!isObject(token) || token.special === true) return undefined;
  return typeof token.text === 'string' && token.text.length > 0 ? token.text : undefined;
}

function endEvent(details: unknown): EndEvent {
  if (!isObject(details)) return { type: 'end', finishReason: 'stop' };
  // eos_token and stop_sequence are both a natural stop; only `length` means truncation.
  const end: EndEvent = { type: 'end', finishReason: details.finish_reason === 'length' ? 'length' : 'stop' };
  if (typeof details.input_length === 'number') end.promptTokens = details.input_length;
  if (typeof details.generated_tokens === 'number') end.completionTokens = details.generated_tokens;
  return end;
}

/**
 * The whole stream: yields tokens then exactly one `end`; throws the mapped EngineError on an
 * in-band error or when the engine closes the stream without its final event.
 */
export async function* decodeTgiStream(messages: AsyncIterable<SseMessage>): AsyncGenerator<CanonicalEvent> {
  let sawToken = false;
  for await (const msg of messages) {
    const decoded = decodeTgiMessage(msg);
    switch (decoded.kind) {
      case 'ignore':
        break;
      case 'token':
        sawToken = true;
        yield { type: 'token', text: decoded.text };
        break;
      case 'final':
        if (decoded.text.length > 0) yield { type: 'token', text: decoded.text };
        yield decoded.end;
        return;
      case 'error':
        throw tgiStreamError(decoded.error, sawToken);
      default: {
        const unreachable: never = decoded;
        throw new Error(`unhandled TGI event ${String(unreachable)}`);
      }
    }
  }
  throw tgiStreamError({ message: 'stream closed before the final event', type: 'incomplete_generation_stream' }, sawToken);
}

export type TgiInfo = { ok: true; props: EngineProps } | { ok: false; field: string };

/** `GET /info` (TGI router `Info`) → engine facts; names the first missing field otherwise. */
export function decodeTgiInfo(text: string, deterministic: boolean): TgiInfo {
  let info: unknown;
  try {
    info = JSON.parse(text);
  } catch {
    return { ok: false, field: '(body is not JSON)' };
  }
  if (!isObject(info)) return { ok: false, field: '(body is not an object)' };
  const { version, model_id: model, max_total_tokens: ctxMax, max_concurrent_requests: slots } = info;
  if (typeof version !== 'string') return { ok: false, field: 'version' };
  if (typeof model !== 'string') return { ok: false, field: 'model_id' };
  if (typeof ctxMax !== 'number' || ctxMax <= 0) return { ok: false, field: 'max_total_tokens' };
  if (typeof slots !== 'number' || slots <= 0) return { ok: false, field: 'max_concurrent_requests' };
  return { ok: true, props: { engineVersion: version, model, ctxMax, slotsTotal: slots, deterministic } };
}
