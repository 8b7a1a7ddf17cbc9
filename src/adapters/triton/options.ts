// The Triton adapter's replica options: which model repository flavour sits behind the generate
// endpoint (TensorRT-LLM `ensemble` or `llmapi`), explicit tensor-name overrides, and the facts
// Triton does not report (context size, slots). Validated when the adapter is built.

import { Type, type Static } from '@sinclair/typebox';
import { HttpOptionFields } from '../http/http-options.ts';

const TensorName = Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_.-]+$' });

export const TritonOptionsSchema = Type.Object(
  {
    ...HttpOptionFields,
    profile: Type.Union([Type.Literal('ensemble'), Type.Literal('llmapi')], {
      default: 'ensemble',
      description: 'TensorRT-LLM model repository flavour: ensemble/tensorrt_llm_bls names, or the llmapi model',
    }),
    input_names: Type.Optional(
      Type.Object(
        {
          text_input: Type.Optional(TensorName),
          max_tokens: Type.Optional(TensorName),
          stream: Type.Optional(TensorName),
          seed: Type.Optional(TensorName),
          temperature: Type.Optional(TensorName),
          top_p: Type.Optional(TensorName),
          top_k: Type.Optional(TensorName),
          stop: Type.Optional(TensorName),
        },
        { additionalProperties: false, description: 'override input tensor names per role (e.g. seed: random_seed on older ensembles)' },
      ),
    ),
    output_name: Type.Optional(TensorName),
    text_mode: Type.Optional(
      Type.Union([Type.Literal('delta'), Type.Literal('cumulative')], {
        description: 'whether each response carries only new text (ensemble) or all text so far (llmapi); defaults from profile',
      }),
    ),
    ctx_max: Type.Integer({ minimum: 1, description: 'context window in tokens: Triton does not report it' }),
    slots: Type.Optional(Type.Integer({ minimum: 1, description: 'concurrent sequences; wins over max_batch_size' })),
    max_batch_size: Type.Optional(Type.Integer({ minimum: 1, description: 'the engine max_batch_size, used as the slot count' })),
    deterministic: Type.Boolean({
      default: false,
      description: 'declare that equal (prompt, seed) give equal tokens on every replica; in-flight batching usually breaks this',
    }),
    metrics_url: Type.Optional(
      Type.String({
        pattern: '^https?://[^\\s/?#]+(/[^\\s]*)?$',
        description: 'Prometheus endpoint (Triton serves it on its own port); default: the replica host on port 8002, path /metrics',
      }),
    ),
  },
  { additionalProperties: false },
);

export type TritonOptions = Static<typeof TritonOptionsSchema>;

export const TRITON_DEFAULT_SLOTS = 64;

export type TritonRole = 'text_input' | 'max_tokens' | 'stream' | 'seed' | 'temperature' | 'top_p' | 'top_k' | 'stop';

/** Resolved wire names: what encode writes and decode reads. */
export interface TritonWire {
  inputs: Record<TritonRole, string>;
  output: string;
  textMode: 'delta' | 'cumulative';
}

/** TRTLLM `docs/model_config.md` (ensemble / tensorrt_llm_bls) and `all_models/llmapi` helpers. */
export const TRITON_PROFILES: Record<TritonOptions['profile'], TritonWire> = {
  ensemble: {
    inputs: { text_input: 'text_input', max_tokens: 'max_tokens', stream: 'stream', seed: 'seed', temperature: 'temperature', top_p: 'top_p', top_k: 'top_k', stop: 'stop_words' },
    output: 'text_output',
    // The postprocessing model detokenizes only the new ids of each response.
    textMode: 'delta',
  },
  llmapi: {
    inputs: {
      text_input: 'text_input', max_tokens: 'sampling_param_max_tokens', stream: 'streaming', seed: 'sampling_param_seed',
      temperature: 'sampling_param_temperature', top_p: 'sampling_param_top_p', top_k: 'sampling_param_top_k', stop: 'sampling_param_stop',
    },
    output: 'text_output',
    // The llmapi model sends `CompletionOutput.text`, the whole text so far (not `text_diff`).
    textMode: 'cumulative',
  },
};

export function tritonWire(options: Pick<TritonOptions, 'profile' | 'input_names' | 'output_name' | 'text_mode'>): TritonWire {
  const base = TRITON_PROFILES[options.profile];
  return {
    inputs: { ...base.inputs, ...options.input_names },
    output: options.output_name ?? base.output,
    textMode: options.text_mode ?? base.textMode,
  };
}

export function tritonSlots(options: Pick<TritonOptions, 'slots' | 'max_batch_size'>): number {
  return options.slots ?? options.max_batch_size ?? TRITON_DEFAULT_SLOTS;
}

/** Default Triton `--metrics-port`. */
export const TRITON_METRICS_PORT = 8002;

/** The replica's metrics endpoint: the `metrics_url` option, else its host on port 8002 at /metrics. */
export function tritonMetricsUrl(baseUrl: string, metricsUrl: string | undefined): URL {
  if (metricsUrl !== undefined) {
    try {
      return new URL(metricsUrl);
    } catch {
      throw new Error('invalid triton replica options at /metrics_url: not a URL');
    }
  }
  const url = new URL(baseUrl);
  url.port = String(TRITON_METRICS_PORT);
  url.pathname = '/metrics';
  url.search = '';
  url.hash = '';
  return url;
}
