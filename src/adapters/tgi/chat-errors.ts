// TGI Messages API (`/v1/chat/completions`) failures → EngineError. On this route TGI reports
// every error raised once the stream exists as `{"error":{"message","http_status_code":422}}`,
// the status hard-coded (router `InferError::into_openai_event`, ENGINES.md §3): overload
// (`--max-concurrent-requests`), parameter validation and generation failures all look alike,
// so before the first token the message's fixed `InferError` prefix decides. After it, any
// failure is a broken stream (WORKER_RESET). Failures before the stream (template and tool
// errors: a real HTTP 422 `{"error","error_type"}`) and transport failures map as on `/generate_stream`.

import { EngineError } from '../contract.ts';
import type { ErrorPolicy } from '../http/error-map.ts';
import { toUpstreamFailure, type InBandError } from '../../transport/upstream-failure.ts';
import { tgiError, tgiStreamError } from './errors.ts';

const DETAIL_LIMIT = 512;

/** TGI's `InferError` Display prefixes (router/src/infer/mod.rs) → its `error_type`. */
const TYPE_BY_PREFIX: ReadonlyArray<readonly [string, string]> = [
  ['Model is overloaded', 'overloaded'],
  ['Input validation error:', 'validation'],
  ['Request failed during generation:', 'generation'],
  ['Incomplete generation', 'incomplete_generation'],
];

/** `tokens`: how many output events the stream had produced when it failed. */
export function tgiChatError(err: unknown, tokens: number, policy: ErrorPolicy): EngineError {
  if (err instanceof EngineError) return err;
  const failure = toUpstreamFailure(err);
  if (failure.kind !== 'in-band' || failure.inBand === undefined) return tgiError(err, tokens, policy);
  const wire = failure.inBand;
  const type = TYPE_BY_PREFIX.find(([prefix]) => wire.message.startsWith(prefix))?.[1];
  if (tokens === 0 && type !== undefined) return tgiStreamError({ message: wire.message, type }, 0, policy);
  const message = tokens > 0 ? `the TGI stream failed after ${tokens} tokens` : 'the TGI replica failed during generation';
  return new EngineError('WORKER_RESET', message, { upstreamDetail: detail(wire) });
}

function detail(wire: InBandError): string {
  return `in-band: ${wire.message}`.slice(0, DETAIL_LIMIT);
}
