// Wire shapes written by the vLLM fake, after vLLM's OpenAI server (ENGINES.md §2):
// `text_completion` chunks, the `choices: []` usage chunk, `data: [DONE]` (also after an
// in-band error), and both error envelopes (nested current, flat legacy).

import type { GenerationFormat } from '../http/fake-generation.ts';
import type { FakeEngineGauges } from '../http/fake-metrics.ts';

export type VllmErrorStyle = 'nested' | 'flat';

export function errorBody(style: VllmErrorStyle, code: number, type: string, message: string, param: string | null = null): unknown {
  return style === 'flat' ? { object: 'error', message, type, param, code } : { error: { message, type, param, code } };
}

/** `GET /metrics` as vLLM 0.11 (V1 engine) writes it, trimmed: the scheduler gauges live, a few counters fixed. */
export function vllmMetricsText(g: FakeEngineGauges, model: string): string {
  const labels = `engine="0",model_name="${model}"`;
  return [
    '# HELP vllm:num_requests_running Number of requests in model execution batches.',
    '# TYPE vllm:num_requests_running gauge',
    `vllm:num_requests_running{${labels}} ${g.running.toFixed(1)}`,
    '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.',
    '# TYPE vllm:num_requests_waiting gauge',
    `vllm:num_requests_waiting{${labels}} ${g.waiting.toFixed(1)}`,
    '# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.',
    '# TYPE vllm:kv_cache_usage_perc gauge',
    `vllm:kv_cache_usage_perc{${labels}} ${g.kvCacheUsageRatio}`,
    '# HELP vllm:prompt_tokens_total Number of prefill tokens processed.',
    '# TYPE vllm:prompt_tokens_total counter',
    `vllm:prompt_tokens_total{${labels}} 48213.0`,
    '# HELP vllm:generation_tokens_total Number of generation tokens processed.',
    '# TYPE vllm:generation_tokens_total counter',
    `vllm:generation_tokens_total{${labels}} 15000.0`,
    '# HELP vllm:request_success_total Count of successfully processed requests.',
    '# TYPE vllm:request_success_total counter',
    `vllm:request_success_total{engine="0",finished_reason="stop",model_name="${model}"} 118.0`,
    `vllm:request_success_total{engine="0",finished_reason="length",model_name="${model}"} 7.0`,
    '',
  ].join('\n');
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
