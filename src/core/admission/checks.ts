// Admission checks that refuse work a pool cannot do (ARCHITECTURE §3 steps 5 and 8). They
// reject and name the field; they never clamp or substitute a value.

import { fail, ok, orchError, type Result } from '../errors.ts';

/** Estimation rule shared with placement: about four characters per token. */
export const CHARS_PER_TOKEN = 4;

export const estimatePromptTokens = (promptChars: number): number => Math.ceil(promptChars / CHARS_PER_TOKEN);

export interface CapabilityRequest {
  max_tokens: number;
  prompt_chars: number;
  seed?: number;
}

export interface PoolCapability {
  ctxMax: number;
  maxTokensLimit: number;
  maxPromptChars: number;
  deterministic: boolean;
}

export function checkCapability(req: CapabilityRequest, pool: PoolCapability): Result<void> {
  const { max_tokens: maxTokens, prompt_chars: promptChars } = req;
  const invalid = (field: string, message: string) => fail<void>(orchError('INVALID_PARAMS', message, { field }));
  if (!(Number.isSafeInteger(maxTokens) && maxTokens >= 1)) return invalid('max_tokens', 'max_tokens must be an integer >= 1');
  if (maxTokens > pool.maxTokensLimit) {
    return invalid('max_tokens', `max_tokens ${maxTokens} exceeds the server limit of ${pool.maxTokensLimit}`);
  }
  if (maxTokens > pool.ctxMax) {
    return invalid('max_tokens', `max_tokens ${maxTokens} exceeds the model context of ${pool.ctxMax} tokens`);
  }
  if (promptChars > pool.maxPromptChars) {
    return invalid('prompt', `prompt has ${promptChars} characters; the limit is ${pool.maxPromptChars}`);
  }
  const promptTokens = estimatePromptTokens(promptChars);
  if (promptTokens + maxTokens > pool.ctxMax) {
    return invalid('prompt', `prompt (~${promptTokens} tokens at ${CHARS_PER_TOKEN} characters per token) plus max_tokens ${maxTokens} exceeds the model context of ${pool.ctxMax} tokens`);
  }
  if (req.seed !== undefined && !pool.deterministic) {
    return invalid('seed', 'this pool cannot reproduce output from a seed (its engine is not deterministic)');
  }
  return ok(undefined);
}

export interface DeadlineInput {
  /** Client budget from submission to the last token; absent means no deadline. */
  deadline_ms?: number;
  predictedStartMs: number;
  predictedFinishMs: number;
}

/** Refuses up front a deadline the predicted finish (max_tokens in full) would miss. */
export function checkDeadline({ deadline_ms: deadlineMs, predictedStartMs, predictedFinishMs }: DeadlineInput): Result<void> {
  if (deadlineMs === undefined || predictedFinishMs <= deadlineMs) return ok(undefined);
  const message = Number.isFinite(predictedFinishMs)
    ? `deadline_ms ${deadlineMs} cannot be met: predicted start in ${predictedStartMs} ms, finish in ${predictedFinishMs} ms`
    : `deadline_ms ${deadlineMs} cannot be met: the pool has no capacity to predict a finish from`;
  return fail(orchError('DEADLINE_UNMET', message, { field: 'deadline_ms' }));
}
