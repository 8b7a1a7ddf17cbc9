import { describe, expect, it } from 'vitest';
import { checkCapability, checkDeadline, estimatePromptTokens, type CapabilityRequest, type DeadlineInput, type PoolCapability } from './checks.ts';

const POOL: PoolCapability = { ctxMax: 1000, maxTokensLimit: 512, maxPromptChars: 3000, deterministic: false };

// ORCH-0105
describe('checkCapability', () => {
  it.each<[string, CapabilityRequest, Partial<PoolCapability>]>([
    ['a small request', { max_tokens: 32, prompt_chars: 5 }, {}],
    ['max_tokens exactly at the limit', { max_tokens: 512, prompt_chars: 0 }, {}],
    ['prompt and max_tokens exactly filling the context', { max_tokens: 500, prompt_chars: 2000 }, {}],
    ['a seed on a deterministic pool', { max_tokens: 8, prompt_chars: 8, seed: 42 }, { deterministic: true }],
  ])('accepts %s', (_title, req, pool) => {
    expect(checkCapability(req, { ...POOL, ...pool })).toEqual({ ok: true, value: undefined });
  });

  it.each<[string, CapabilityRequest, Partial<PoolCapability>, string, RegExp]>([
    ['zero max_tokens', { max_tokens: 0, prompt_chars: 1 }, {}, 'max_tokens', /integer >= 1/],
    ['negative max_tokens', { max_tokens: -5, prompt_chars: 1 }, {}, 'max_tokens', /integer >= 1/],
    ['fractional max_tokens', { max_tokens: 1.5, prompt_chars: 1 }, {}, 'max_tokens', /integer >= 1/],
    ['max_tokens over the server limit', { max_tokens: 513, prompt_chars: 1 }, {}, 'max_tokens', /exceeds the server limit of 512/],
    ['max_tokens over the context', { max_tokens: 400, prompt_chars: 1 }, { ctxMax: 300 }, 'max_tokens', /model context of 300/],
    ['a prompt over the character limit', { max_tokens: 1, prompt_chars: 3001 }, {}, 'prompt', /3001 characters; the limit is 3000/],
    ['a prompt that leaves no room for max_tokens', { max_tokens: 500, prompt_chars: 2001 }, {}, 'prompt', /~501 tokens .* plus max_tokens 500 exceeds the model context of 1000/],
    ['a seed on a non-deterministic pool', { max_tokens: 8, prompt_chars: 8, seed: 1 }, {}, 'seed', /not deterministic/],
  ])('rejects %s naming the field', (_title, req, pool, field, message) => {
    const result = checkCapability(req, { ...POOL, ...pool });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).toMatchObject({ code: 'INVALID_PARAMS', field, retriable: false });
      expect(result.error.message).toMatch(message);
    }
  });

  it('estimates prompt tokens as ceil(chars / 4)', () => {
    expect([0, 1, 4, 5, 8].map(estimatePromptTokens)).toEqual([0, 1, 1, 2, 2]);
  });
});

// ORCH-0109
describe('checkDeadline', () => {
  it.each<[string, DeadlineInput]>([
    ['no deadline', { predictedStartMs: 10, predictedFinishMs: 1e9 }],
    ['a finish before the deadline', { deadline_ms: 2000, predictedStartMs: 0, predictedFinishMs: 1999 }],
    ['a finish exactly at the deadline', { deadline_ms: 2000, predictedStartMs: 0, predictedFinishMs: 2000 }],
  ])('accepts %s', (_title, input) => {
    expect(checkDeadline(input)).toEqual({ ok: true, value: undefined });
  });

  it.each<[string, DeadlineInput, RegExp]>([
    ['a finish after the deadline', { deadline_ms: 1000, predictedStartMs: 250, predictedFinishMs: 1001 }, /deadline_ms 1000 cannot be met: predicted start in 250 ms, finish in 1001 ms/],
    ['a pool without capacity', { deadline_ms: 1000, predictedStartMs: Infinity, predictedFinishMs: Infinity }, /no capacity/],
  ])('refuses %s with DEADLINE_UNMET', (_title, input, message) => {
    const result = checkDeadline(input);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).toMatchObject({ code: 'DEADLINE_UNMET', field: 'deadline_ms', retriable: false });
      expect(result.error.message).toMatch(message);
    }
  });
});
