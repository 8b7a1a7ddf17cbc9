// What the fake Triton's model repository declares and accepts: per-profile input/output
// tensors (TRTLLM `docs/model_config.md`, `all_models/llmapi`), metadata documents and the
// request check Triton does before inference (unknown input → 400, bad types → 400).

import { isRecord } from '../../../src/transport/json-fields.ts';

export type TritonFakeProfile = 'ensemble' | 'llmapi';

interface ProfileSpec {
  model: string;
  platform: string;
  inputs: readonly string[];
  outputs: readonly string[];
  text: string;
  maxTokens: string;
  stream: string;
  seed: string;
  stop: string;
}

export const FAKE_PROFILES: Record<TritonFakeProfile, ProfileSpec> = {
  ensemble: {
    model: 'ensemble',
    platform: 'ensemble',
    inputs: [
      'text_input', 'max_tokens', 'bad_words', 'stop_words', 'end_id', 'pad_id', 'top_k', 'top_p', 'temperature', 'length_penalty',
      'repetition_penalty', 'min_tokens', 'presence_penalty', 'frequency_penalty', 'seed', 'beam_width', 'num_return_sequences',
      'return_log_probs', 'return_context_logits', 'return_generation_logits', 'return_perf_metrics', 'stream',
    ],
    outputs: ['text_output', 'cum_log_probs', 'output_log_probs', 'context_logits', 'generation_logits', 'batch_index', 'sequence_index'],
    text: 'text_input', maxTokens: 'max_tokens', stream: 'stream', seed: 'seed', stop: 'stop_words',
  },
  llmapi: {
    model: 'tensorrt_llm',
    platform: 'python',
    inputs: [
      'text_input', 'streaming', 'sampling_param_best_of', 'sampling_param_temperature', 'sampling_param_top_k', 'sampling_param_top_p',
      'sampling_param_frequency_penalty', 'sampling_param_presence_penalty', 'sampling_param_max_tokens', 'sampling_param_seed',
      'sampling_param_exclude_input_from_output', 'sampling_param_return_perf_metrics', 'sampling_param_stop',
      'return_finish_reason', 'return_stop_reason', 'return_cumulative_logprob',
    ],
    outputs: ['text_output', 'finish_reason', 'stop_reason', 'cumulative_logprob'],
    text: 'text_input', maxTokens: 'sampling_param_max_tokens', stream: 'streaming', seed: 'sampling_param_seed', stop: 'sampling_param_stop',
  },
};

export function modelMetadata(profile: TritonFakeProfile, model: string): Record<string, unknown> {
  const spec = FAKE_PROFILES[profile];
  const tensor = (name: string) => ({ name, datatype: name.includes('text') || name.includes('words') || name.endsWith('stop') ? 'BYTES' : 'INT32', shape: [-1, -1] });
  return { name: model, versions: ['1'], platform: spec.platform, inputs: spec.inputs.map(tensor), outputs: spec.outputs.map(tensor) };
}

export interface TritonFakeRequest {
  id: string | undefined;
  prompt: string;
  maxTokens: number;
  seed: number;
  streaming: boolean;
  stop: string[];
}

export type TritonCheck = { ok: true; request: TritonFakeRequest } | { ok: false; message: string };

export function checkTritonRequest(body: unknown, profile: TritonFakeProfile, model: string): TritonCheck {
  const spec = FAKE_PROFILES[profile];
  if (!isRecord(body)) return { ok: false, message: 'failed to parse the request JSON buffer: The document is empty.' };
  for (const key of Object.keys(body)) {
    if (key !== 'id' && key !== 'parameters' && !spec.inputs.includes(key)) {
      return { ok: false, message: `unexpected inference input '${key}' for model '${model}'` };
    }
  }
  const prompt = body[spec.text];
  if (typeof prompt !== 'string') return { ok: false, message: `expected input '${spec.text}' of type BYTES for model '${model}'` };
  const maxTokens = body[spec.maxTokens];
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1) {
    return { ok: false, message: `expected input '${spec.maxTokens}' as a positive INT32 for model '${model}'` };
  }
  const stop = body[spec.stop];
  const seed = body[spec.seed];
  return {
    ok: true,
    request: {
      id: typeof body['id'] === 'string' ? body['id'] : undefined,
      prompt,
      maxTokens,
      seed: typeof seed === 'number' ? seed : 0,
      streaming: body[spec.stream] === true,
      stop: Array.isArray(stop) ? stop.filter((s): s is string => typeof s === 'string' && s.length > 0) : [],
    },
  };
}
