import { describe, expect, it } from 'vitest';
import { parseAnthropicRateLimit } from '../anthropic/rate-limit.ts';
import { parseDurationMs, parseOpenAiRateLimit } from '../openai/rate-limit.ts';
import { resetHintOf } from './provider-rate-limit.ts';

const NOW = Date.parse('2025-08-21T12:40:00Z');

describe('provider rate-limit headers', () => {
  it.each([
    ['1s', 1000], ['6m0s', 360_000], ['20ms', 20], ['1h2m3.5s', 3_723_500], ['2m59.56s', 179_560], ['7', 7000], ['soon', undefined], ['1x', undefined], ['', undefined],
  ] as const)('reads the Go duration %j as %j ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it('reads the OpenAI family; a spent budget sets resetAtMs', () => {
    const headers = { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1.5s', 'x-ratelimit-remaining-tokens': '149984', 'x-ratelimit-reset-tokens': '6m0s' };
    const limit = parseOpenAiRateLimit(headers, NOW);
    expect(limit).toEqual({ observedAtMs: NOW, remainingRequests: 0, remainingTokens: 149984, requestsResetAtMs: NOW + 1500, tokensResetAtMs: NOW + 360_000, resetAtMs: NOW + 1500 });
    expect(resetHintOf(limit, NOW + 500)).toBe(1000);
  });

  it('reports nothing for an answer without the headers, and no reset hint while no budget is spent', () => {
    expect(parseOpenAiRateLimit({ 'content-type': 'text/event-stream' }, NOW)).toBeUndefined();
    expect(resetHintOf(parseOpenAiRateLimit({ 'x-ratelimit-remaining-requests': '3', 'x-ratelimit-reset-requests': '1s' }, NOW), NOW)).toBeUndefined();
  });

  it('reads the Anthropic family with RFC 3339 resets, tokens from the combined budget', () => {
    const limit = parseAnthropicRateLimit({
      'anthropic-ratelimit-requests-remaining': '999',
      'anthropic-ratelimit-requests-reset': '2025-08-21T12:40:59Z',
      'anthropic-ratelimit-tokens-remaining': '0',
      'anthropic-ratelimit-tokens-reset': '2025-08-21T12:41:30Z',
      'anthropic-ratelimit-input-tokens-remaining': '5',
    }, NOW);
    expect(limit).toEqual({
      observedAtMs: NOW, remainingRequests: 999, remainingTokens: 0,
      requestsResetAtMs: Date.parse('2025-08-21T12:40:59Z'), tokensResetAtMs: Date.parse('2025-08-21T12:41:30Z'), resetAtMs: Date.parse('2025-08-21T12:41:30Z'),
    });
  });

  it('falls back to the tighter of the input and output token budgets', () => {
    const limit = parseAnthropicRateLimit({
      'anthropic-ratelimit-input-tokens-remaining': '80000', 'anthropic-ratelimit-input-tokens-reset': '2025-08-21T12:40:59Z',
      'anthropic-ratelimit-output-tokens-remaining': '16', 'anthropic-ratelimit-output-tokens-reset': '2025-08-21T12:41:00Z',
      'anthropic-ratelimit-requests-reset': 'not a date',
    }, NOW);
    expect(limit).toEqual({ observedAtMs: NOW, remainingTokens: 16, tokensResetAtMs: Date.parse('2025-08-21T12:41:00Z') });
  });
});
