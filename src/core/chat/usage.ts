// Canonical token usage of one answer (issue 11, issue 13). `cachedInputTokens` is the part of
// `inputTokens` served from a prompt cache (OpenAI `prompt_tokens_details.cached_tokens`,
// Anthropic `cache_read_input_tokens`, llama.cpp `timings.cache_n`), never added on top.

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number;
}
