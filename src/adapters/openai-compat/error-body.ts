// Unwraps the error envelopes OpenAI-style engines put on the wire, in every shape seen across
// versions (ENGINES.md §1, §2): nested {"error":{message,type,code}} (OpenAI, llama.cpp, current
// vLLM), flat {"object":"error",message,type,code} (older vLLM), and the bare {code,message,type}
// of llama.cpp's legacy `error:` SSE line. Also {"error":"text"} (TGI/Triton style).

import type { InBandError } from '../../transport/upstream-failure.ts';
import { isRecord, numberField, parseJson, stringField, type JsonRecord } from '../../transport/json-fields.ts';

/** An HTTP-like status carried in `code` (vLLM, llama.cpp); OpenAI's string codes are not statuses. */
function statusOf(obj: JsonRecord): number | undefined {
  const code = numberField(obj, 'code') ?? numberField(obj, 'http_status_code');
  return code !== undefined && Number.isInteger(code) && code >= 100 && code <= 599 ? code : undefined;
}

function fromObject(obj: JsonRecord): InBandError | undefined {
  const message = stringField(obj, 'message');
  if (message === undefined) return undefined;
  const status = statusOf(obj);
  const type = stringField(obj, 'type');
  return { message, ...(status === undefined ? {} : { status }), ...(type === undefined ? {} : { type }) };
}

/** Returns the error a JSON value describes, or undefined when it is not an error body. */
export function unwrapErrorBody(value: unknown): InBandError | undefined {
  if (!isRecord(value)) return undefined;
  const nested = value['error'];
  if (isRecord(nested)) return fromObject(nested) ?? { message: 'engine error without a message' };
  if (typeof nested === 'string') {
    const type = stringField(value, 'error_type');
    return { message: nested, ...(type === undefined ? {} : { type }) };
  }
  if (value['object'] === 'error') return fromObject(value) ?? { message: 'engine error without a message' };
  return undefined;
}

/** Like unwrapErrorBody but also accepts the bare legacy shape; for payloads known to be errors. */
export function readErrorPayload(value: unknown): InBandError {
  const wrapped = unwrapErrorBody(value);
  if (wrapped !== undefined) return wrapped;
  if (isRecord(value)) {
    const bare = fromObject(value) ?? (typeof value['content'] === 'string' ? { message: value['content'] } : undefined);
    if (bare !== undefined) return bare;
  }
  return { message: 'engine sent an error it did not describe' };
}

/** Parses an HTTP error body; undefined when it is not JSON or not an error envelope. */
export function parseErrorText(text: string): InBandError | undefined {
  return unwrapErrorBody(parseJson(text));
}
