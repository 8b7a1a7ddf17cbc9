// Wire shapes written by the OpenAI-compatible provider fake (ENGINES.md §6 OpenAI, §7
// OpenRouter): `chat.completion.chunk` SSE with `data: [DONE]`, OpenAI's role chunk, `usage:null`
// on content chunks and the `choices: []` usage chunk; OpenRouter's `: OPENROUTER PROCESSING`
// comments, role on every delta, `native_finish_reason`, a trailing usage chunk whose choices are
// not empty with `usage.cost`, and its in-band error chunk with `finish_reason: "error"`.

import type { GenerationFormat } from '../http/fake-generation.ts';

export type OpenAiFlavour = 'openai' | 'openrouter';

export interface ChatChunkContext {
  flavour: OpenAiFlavour;
  id: string;
  created: number;
  model: string;
  promptTokens: number;
  cachedTokens: number;
  includeUsage: boolean;
  /** OpenRouter credits (USD) per output token, for `usage.cost`. */
  costPerToken: number;
}

export const data = (value: unknown): string => `data: ${JSON.stringify(value)}\n\n`;
export const OPENROUTER_PROCESSING = ': OPENROUTER PROCESSING\n\n';

/** The error envelope each flavour answers with (OpenAI: string code; OpenRouter: the HTTP status). */
export function errorBody(flavour: OpenAiFlavour, status: number, type: string, message: string, code: string | null = null): unknown {
  return flavour === 'openrouter'
    ? { error: { code: status, message, metadata: { provider_name: 'OpenAI' } } }
    : { error: { message, type, param: null, code } };
}

export function chunkWriter(ctx: ChatChunkContext) {
  const router = ctx.flavour === 'openrouter';
  const head = router
    ? { id: ctx.id, provider: 'OpenAI', model: ctx.model, object: 'chat.completion.chunk', created: ctx.created }
    : { id: ctx.id, object: 'chat.completion.chunk', created: ctx.created, model: ctx.model, service_tier: 'default', system_fingerprint: 'fp_fake0001' };
  const choice = (delta: Record<string, unknown>, finish: string | null) =>
    router
      ? { index: 0, delta: { role: 'assistant', ...delta }, finish_reason: finish, native_finish_reason: finish, logprobs: null }
      : { index: 0, delta, logprobs: null, finish_reason: finish };
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    data({ ...head, choices: [choice(delta, finish)], ...(router ? {} : { usage: null, obfuscation: 'k3Xq' }) });
  const usage = (completion: number) => {
    const base = {
      prompt_tokens: ctx.promptTokens,
      completion_tokens: completion,
      total_tokens: ctx.promptTokens + completion,
      prompt_tokens_details: { cached_tokens: ctx.cachedTokens, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    };
    if (!router) return ctx.includeUsage ? data({ ...head, choices: [], usage: base }) : '';
    const cost = Number((completion * ctx.costPerToken).toFixed(8));
    // OpenRouter always reports usage, in a chunk whose choices are not empty.
    return data({
      ...head,
      choices: [choice({ content: '' }, null)],
      usage: { ...base, cost, is_byok: false, cost_details: { upstream_inference_cost: null, upstream_inference_prompt_cost: 0, upstream_inference_completions_cost: cost } },
    });
  };
  return {
    start: router ? OPENROUTER_PROCESSING : chunk({ role: 'assistant', content: '', refusal: null }),
    chunk,
    finish: (reason: string, completion: number) => `${chunk(router ? { content: '' } : {}, reason)}${usage(completion)}data: [DONE]\n\n`,
    inBandError: (message: string) =>
      router
        ? `${data({ ...head, error: { code: 502, message }, choices: [choice({ content: '' }, 'error')] })}data: [DONE]\n\n`
        : data({ error: { message, type: 'server_error', param: null, code: null } }),
  };
}

export function chatFormat(ctx: ChatChunkContext, headers: Record<string, string>): GenerationFormat {
  const w = chunkWriter(ctx);
  return {
    headers: { 'content-type': 'text/event-stream; charset=utf-8', ...headers },
    start: w.start,
    keepAlive: ctx.flavour === 'openrouter' ? OPENROUTER_PROCESSING : ': keep-alive\n\n',
    token: (piece) => w.chunk({ content: piece }),
    final: (outcome) => w.finish(outcome.stop === 'limit' ? 'length' : 'stop', outcome.tokens),
    inBandError: (message) => w.inBandError(message),
  };
}
