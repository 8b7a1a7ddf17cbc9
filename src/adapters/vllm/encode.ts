// Canonical request → vLLM `POST /v1/completions` body (ENGINES.md §2). Pure. vLLM speaks the
// OpenAI completions dialect, so this is the shared codec plus vLLM's facts: `max_tokens` must
// always be sent (vLLM's default is 16) and `stream_options.include_usage` buys the usage chunk.

import type { CanonicalRequest } from '../contract.ts';
import { encodeCompletions, type CompletionsBody } from '../openai-compat/completions-codec.ts';

export const COMPLETIONS_PATH = '/v1/completions';

export type VllmCompletionBody = CompletionsBody;

/** A `seed` makes vLLM sample reproducibly per request; without one the output varies. */
export function encodeVllm(req: CanonicalRequest): VllmCompletionBody {
  return encodeCompletions(req);
}
