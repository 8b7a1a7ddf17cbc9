// Canonical request → Chat Completions body for any OpenAI-compatible provider (ENGINES.md §6,
// §7). Pure. The shared codec (openai-compat/chat-encode.ts) does the translation; this adds the
// provider's facts: the completion workload as one user message, and which limit field to send.

import type { CanonicalRequest } from '../contract.ts';
import { asChatRequest } from '../http/completion-as-chat.ts';
import { encodeChat, type EncodedChat } from '../openai-compat/chat-encode.ts';
import type { OpenAiOptions } from './options.ts';

/** Relative to the replica `url`, which is the provider's base URL with its `/v1` (as its SDKs take it). */
export const CHAT_PATH = '/chat/completions';
export const MODELS_PATH = '/models';

export function encodeOpenAi(req: CanonicalRequest, options: Pick<OpenAiOptions, 'max_tokens_field'>): EncodedChat {
  return encodeChat(asChatRequest(req), { maxTokensField: options.max_tokens_field });
}
