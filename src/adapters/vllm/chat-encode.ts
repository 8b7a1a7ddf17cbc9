// Canonical chat request → vLLM `POST /v1/chat/completions` body (ENGINES.md §2). Pure. vLLM
// speaks the OpenAI chat dialect as written; `max_tokens` is always sent and
// `stream_options.include_usage` buys the usage chunk, as on the completions route.

import type { ChatCanonicalRequest } from '../contract.ts';
import { encodeChat, type ChatCompletionsBody } from '../openai-compat/chat-encode.ts';

export function encodeVllmChat(req: ChatCanonicalRequest): ChatCompletionsBody {
  return encodeChat(req).body;
}
