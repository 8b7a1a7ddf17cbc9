// Wire shapes written by the llama.cpp fake, copied from llama-server (ENGINES.md §1:
// server-task.cpp `to_json_non_oaicompat_{partial,final}`, `format_error_response`).

import type { GenerationFormat, GenerationOutcome } from '../http/fake-generation.ts';
import type { FakeEngineGauges } from '../http/fake-metrics.ts';

export const LOADING_BODY = { error: { code: 503, message: 'Loading model', type: 'unavailable_error' } };
export const NO_SLOT_BODY = { error: { code: 503, message: 'no slot available', type: 'unavailable_error' } };

/** llama-server without `--metrics` (server.cpp `handle_metrics`). */
export const NO_METRICS_BODY = {
  error: { code: 501, message: 'This server does not support metrics endpoint. Start it with `--metrics`', type: 'not_supported_error' },
};

/** `GET /metrics` as llama-server b6xxx writes it (counters fixed, the three gauges live). */
export function llamacppMetricsText(g: FakeEngineGauges, nCtxTotal: number): string {
  const family = (name: string, type: string, help: string, value: number): string =>
    `# HELP llamacpp:${name} ${help}\n# TYPE llamacpp:${name} ${type}\nllamacpp:${name} ${value}\n`;
  return [
    family('prompt_tokens_total', 'counter', 'Number of prompt tokens processed.', 96641),
    family('prompt_seconds_total', 'counter', 'Prompt process time', 227.438),
    family('tokens_predicted_total', 'counter', 'Number of generation tokens processed.', 23210),
    family('tokens_predicted_seconds_total', 'counter', 'Predict process time', 510.374),
    family('n_decode_total', 'counter', 'Total number of llama_decode() calls', 23381),
    family('n_busy_slots_per_decode', 'counter', 'Average number of busy slots per llama_decode() call', 1.6),
    family('prompt_tokens_seconds', 'gauge', 'Average prompt throughput in tokens/s.', 424.925),
    family('predicted_tokens_seconds', 'gauge', 'Average generation throughput in tokens/s.', 45.4769),
    family('kv_cache_usage_ratio', 'gauge', 'KV-cache usage. 1 means 100 percent usage.', g.kvCacheUsageRatio),
    family('kv_cache_tokens', 'gauge', 'KV-cache tokens.', Math.round(g.kvCacheUsageRatio * nCtxTotal)),
    family('requests_processing', 'gauge', 'Number of requests processing.', g.running),
    family('requests_deferred', 'gauge', 'Number of requests deferred.', g.waiting),
  ].join('');
}

export function errorBody(code: number, message: string, type: string, extra: Record<string, unknown> = {}): unknown {
  return { error: { code, message, type, ...extra } };
}

export interface CompletionContext {
  slotId: number;
  promptTokens: number;
  cacheN: number;
  prompt: string;
  modelAlias: string;
  seed: number;
  nPredict: number;
  startedAt: number;
  errorStyle: 'data' | 'legacy';
  unknownKeys: boolean;
}

const FUTURE = { __future_field: { note: 'unknown keys must be ignored' } };

export function llamacppFormat(ctx: CompletionContext): GenerationFormat {
  const extra = ctx.unknownKeys ? FUTURE : {};
  let firstTokenAt = 0;
  return {
    headers: { 'Content-Type': 'text/event-stream', Server: 'llama.cpp' },
    keepAlive: ':\n\n',
    token(piece, tokenId, sent) {
      if (sent === 1) firstTokenAt = performance.now();
      const partial = {
        index: 0,
        content: piece,
        tokens: [tokenId],
        stop: false,
        id_slot: ctx.slotId,
        tokens_predicted: sent,
        tokens_evaluated: ctx.promptTokens,
        ...extra,
      };
      return `data: ${JSON.stringify(partial)}\n\n`;
    },
    final(outcome) {
      return `data: ${JSON.stringify(finalEvent(ctx, outcome, firstTokenAt, extra))}\n\n`;
    },
    inBandError(message) {
      const error = { code: 500, message, type: 'server_error' };
      return ctx.errorStyle === 'legacy' ? `error: ${JSON.stringify(error)}\n\n` : `data: ${JSON.stringify({ error })}\n\n`;
    },
  };
}

function finalEvent(ctx: CompletionContext, outcome: GenerationOutcome, firstTokenAt: number, extra: object): unknown {
  const now = performance.now();
  const promptMs = Math.max(0.001, (firstTokenAt || now) - ctx.startedAt);
  const predictedMs = Math.max(0.001, now - (firstTokenAt || now));
  const promptN = ctx.promptTokens - ctx.cacheN;
  return {
    index: 0,
    content: '',
    tokens: [],
    id_slot: ctx.slotId,
    stop: true,
    model: ctx.modelAlias,
    tokens_predicted: outcome.tokens,
    tokens_evaluated: ctx.promptTokens,
    generation_settings: { n_predict: ctx.nPredict, seed: ctx.seed, temperature: 0.8, top_p: 0.95, stream: true },
    prompt: ctx.prompt,
    has_new_line: outcome.text.includes('\n'),
    truncated: false,
    stop_type: outcome.stop,
    stopping_word: outcome.stoppingWord,
    // llama-server semantics: the slot's whole cache after the request, prompt + output.
    tokens_cached: ctx.promptTokens + outcome.tokens,
    timings: {
      cache_n: ctx.cacheN,
      prompt_n: promptN,
      prompt_ms: promptMs,
      prompt_per_token_ms: promptMs / Math.max(1, promptN),
      prompt_per_second: (promptN * 1000) / promptMs,
      predicted_n: outcome.tokens,
      predicted_ms: predictedMs,
      predicted_per_token_ms: predictedMs / Math.max(1, outcome.tokens),
      predicted_per_second: (outcome.tokens * 1000) / predictedMs,
    },
    ...extra,
  };
}
