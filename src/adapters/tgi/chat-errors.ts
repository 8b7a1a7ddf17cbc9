// TGI Messages API (`/v1/chat/completions`) failures → EngineError. On this route TGI reports
// every error inside the stream as `{"error":{"message","http_status_code":422}}` with the
// status hard-coded (ENGINES.md §3), so the status says nothing: chat templates are applied
// before the stream starts (a real HTTP 422), which leaves in-band errors to generation
// failures — a broken replica, WORKER_RESET. Everything else maps as on `/generate_stream`.

import { EngineError } from '../contract.ts';
import type { ErrorPolicy } from '../http/error-map.ts';
import { toUpstreamFailure } from '../../transport/upstream-failure.ts';
import { tgiError } from './errors.ts';

const DETAIL_LIMIT = 512;

/** `tokens`: how many output events the stream had produced when it failed. */
export function tgiChatError(err: unknown, tokens: number, policy: ErrorPolicy): EngineError {
  if (err instanceof EngineError) return err;
  const failure = toUpstreamFailure(err);
  if (failure.kind !== 'in-band' || failure.inBand === undefined) return tgiError(err, tokens, policy);
  const message = tokens > 0 ? `the TGI stream failed after ${tokens} tokens` : 'the TGI replica failed during generation';
  return new EngineError('WORKER_RESET', message, { upstreamDetail: `in-band: ${failure.inBand.message}`.slice(0, DETAIL_LIMIT) });
}
