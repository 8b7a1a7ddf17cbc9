// Canonical request → llama.cpp `POST /completion` body (ENGINES.md §1). Pure.
// Sessions pin a slot (`id_slot`) and keep the prompt's KV cache (`cache_prompt`) so a
// follow-up turn only evaluates what is new.

import type { CanonicalRequest } from '../contract.ts';

export const COMPLETION_PATH = '/completion';

export interface LlamacppCompletionBody {
  prompt: string;
  n_predict: number;
  stream: true;
  /** -1 lets the server pick an idle slot. */
  id_slot: number;
  cache_prompt: boolean;
  seed?: number;
  temperature?: number;
  top_p?: number;
  stop?: string[];
}

export function encodeLlamacpp(req: CanonicalRequest): LlamacppCompletionBody {
  const body: LlamacppCompletionBody = {
    prompt: req.prompt,
    n_predict: req.maxTokens,
    stream: true,
    id_slot: req.slotId ?? -1,
    // The server's own default is true; said explicitly so behaviour does not drift with builds.
    cache_prompt: req.cachePrompt ?? true,
  };
  if (req.seed !== undefined) body.seed = req.seed;
  if (req.temperature !== undefined) body.temperature = req.temperature;
  if (req.topP !== undefined) body.top_p = req.topP;
  if (req.stop !== undefined && req.stop.length > 0) body.stop = req.stop;
  return body;
}
