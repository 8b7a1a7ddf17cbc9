// The fake TGI's request validation, mirroring the router (TGI `validation.rs`): body shape
// failures are request-level rejections (axum → 422), parameter failures are in-band
// `validation` events. Messages follow TGI's wording so adapters can be tested against them.

import { fakeTokenize } from '../http/fake-tokens.ts';

/** The fake's prompt length in tokens, as `details.input_length` reports it. */
export function tgiInputLength(prompt: string): number {
  return Math.max(1, fakeTokenize(prompt).length);
}

export interface TgiFakeRequest {
  inputs: string;
  maxNewTokens: number;
  seed: number | undefined;
  doSample: boolean;
  details: boolean;
  stop: string[];
}

export type TgiValidation =
  | { kind: 'ok'; request: TgiFakeRequest }
  | { kind: 'reject'; message: string }
  | { kind: 'invalid'; message: string };

interface Limits {
  max_stop_sequences: number;
  max_total_tokens: number;
  max_input_tokens: number;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function validateTgiRequest(body: unknown, limits: Limits): TgiValidation {
  if (!isObject(body) || typeof body.inputs !== 'string') {
    return { kind: 'reject', message: 'Failed to deserialize the JSON body into the target type: missing field `inputs`' };
  }
  const p = isObject(body.parameters) ? body.parameters : {};
  const invalid = (message: string): TgiValidation => ({ kind: 'invalid', message });
  if (p.temperature !== undefined && !(typeof p.temperature === 'number' && p.temperature > 0)) return invalid('`temperature` must be strictly positive');
  if (p.top_p !== undefined && !(typeof p.top_p === 'number' && p.top_p > 0 && p.top_p < 1)) return invalid('`top_p` must be > 0.0 and < 1.0');
  if (p.best_of !== undefined && p.best_of !== 1) return invalid('`best_of` != 1 is not allowed for this endpoint');
  if (p.decoder_input_details === true) return invalid('`decoder_input_details` == true is not supported when streaming tokens');
  const stop = Array.isArray(p.stop) ? p.stop.filter((s): s is string => typeof s === 'string') : [];
  if (stop.length > limits.max_stop_sequences) {
    return invalid(`\`stop\` supports up to ${limits.max_stop_sequences} stop sequences. Given: ${stop.length}`);
  }
  const maxNewTokens = typeof p.max_new_tokens === 'number' ? p.max_new_tokens : 100;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens <= 0) return invalid('`max_new_tokens` must be strictly positive');
  const inputLength = tgiInputLength(body.inputs);
  if (inputLength > limits.max_input_tokens) {
    return invalid(`\`inputs\` must have less than ${limits.max_input_tokens} tokens. Given: ${inputLength}`);
  }
  if (inputLength + maxNewTokens > limits.max_total_tokens) {
    return invalid(`\`inputs\` tokens + \`max_new_tokens\` must be <= ${limits.max_total_tokens}. Given: ${inputLength} \`inputs\` tokens and ${maxNewTokens} \`max_new_tokens\``);
  }
  const seed = typeof p.seed === 'number' ? p.seed : undefined;
  return {
    kind: 'ok',
    request: { inputs: body.inputs, maxNewTokens, seed, doSample: p.do_sample === true, details: p.details === true, stop },
  };
}
