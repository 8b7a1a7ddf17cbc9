// Wire shapes written by the vLLM fake, after vLLM's OpenAI server (ENGINES.md §2):
// `text_completion` chunks, the `choices: []` usage chunk, `data: [DONE]` (also after an
// in-band error), and both error envelopes (nested current, flat legacy).

import type { GenerationFormat } from '../../transport/fake-generation.ts';

export type VllmErrorStyle = 'nested' | 'flat';

export function errorBody(style: VllmErrorStyle, code: number, type: string, message: string, param: string | null = null): unknown {
  return style === 'flat' ? { object: 'error', message, type, param, code } : { error: { message, type, param, code } };
}

export interface ChunkContext {
  id: string;
  created: number;
  model: string;
  promptTokens: number;
  cachedTokens: number | undefined;
  includeUsage: boolean;
  errorStyle: VllmErrorStyle;
  unknownKeys: boolean;
}

const data = (value: unknown): string => `data: ${JSON.stringify(value)}\n\n`;

export function vllmFormat(ctx: ChunkContext): GenerationFormat {
  const extra = ctx.unknownKeys ? { kv_transfer_params: null, service_tier: 'default' } : {};
  const chunk = (text: string, finishReason: string | null, stopReason: string | null): string =>
    data({
      id: ctx.id,
      object: 'text_completion',
      created: ctx.created,
      model: ctx.model,
      choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason, stop_reason: stopReason, prompt_logprobs: null }],
      usage: null,
      ...extra,
    });
  return {
    headers: { 'content-type': 'text/event-stream; charset=utf-8', server: 'uvicorn' },
    keepAlive: ': ping\n\n',
    token: (piece) => chunk(piece, null, null),
    final(outcome) {
      const finish = outcome.stop === 'limit' ? 'length' : 'stop';
      let wire = chunk('', finish, outcome.stop === 'word' ? outcome.stoppingWord : null);
      if (ctx.includeUsage) {
        const usage = {
          prompt_tokens: ctx.promptTokens,
          total_tokens: ctx.promptTokens + outcome.tokens,
          completion_tokens: outcome.tokens,
          prompt_tokens_details: ctx.cachedTokens === undefined ? null : { cached_tokens: ctx.cachedTokens },
        };
        wire += data({ id: ctx.id, object: 'text_completion', created: ctx.created, model: ctx.model, choices: [], usage });
      }
      return `${wire}data: [DONE]\n\n`;
    },
    inBandError: (message) => `${data(errorBody(ctx.errorStyle, 500, 'InternalServerError', message))}data: [DONE]\n\n`,
  };
}
