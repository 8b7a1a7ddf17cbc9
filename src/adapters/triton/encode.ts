// Canonical request → Triton generate-extension body (TR `extension_generate.md`): top-level
// keys are input tensor names, so the names come from the resolved profile. Pure: no I/O and
// no validation; Triton validates and answers 400 before inference.

import type { CanonicalRequest } from '../contract.ts';
import type { TritonWire } from './options.ts';

export type TritonInputValue = string | number | boolean | string[];
export type TritonGenerateBody = Record<string, TritonInputValue>;

export function tritonStreamPath(model: string): string {
  return `/v2/models/${encodeURIComponent(model)}/generate_stream`;
}

export function encodeTritonRequest(req: CanonicalRequest, wire: TritonWire): TritonGenerateBody {
  const names = wire.inputs;
  // `id` is echoed in every response and shows in Triton's logs and traces under our task id.
  const body: TritonGenerateBody = { id: req.taskId, [names.text_input]: req.prompt, [names.max_tokens]: req.maxTokens, [names.stream]: true };
  if (req.seed !== undefined) body[names.seed] = req.seed;
  // TensorRT-LLM has no "temperature 0": greedy decoding is top_k = 1.
  if (req.temperature === 0) body[names.top_k] = 1;
  else if (req.temperature !== undefined) body[names.temperature] = req.temperature;
  if (req.topP !== undefined) body[names.top_p] = req.topP;
  if (req.stop !== undefined && req.stop.length > 0) body[names.stop] = [...req.stop];
  return body;
}
