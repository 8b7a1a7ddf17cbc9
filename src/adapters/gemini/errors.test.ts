import { describe, expect, it } from 'vitest';
import { UpstreamFailure } from '../../transport/upstream-failure.ts';
import { geminiError, geminiErrorPolicy } from './errors.ts';

const policy = geminiErrorPolicy(700);
const google = (code: number, status: string, message: string, details?: unknown[]) => JSON.stringify({ error: { code, message, status, ...(details ? { details } : {}) } });
const status = (code: number, bodyText: string, retryAfterMs?: number) =>
  new UpstreamFailure('status', `HTTP ${code}`, { status: code, bodyText, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });

describe('geminiError', () => {
  const cases: Array<[string, UpstreamFailure, number, string, number | undefined]> = [
    ['429 with RetryInfo → REPLICA_EXHAUSTED with that delay', status(429, google(429, 'RESOURCE_EXHAUSTED', 'quota', [{ retryDelay: '3s' }])), 0, 'REPLICA_EXHAUSTED', 3000],
    ['429 with Retry-After → the header wins', status(429, google(429, 'RESOURCE_EXHAUSTED', 'quota', [{ retryDelay: '3s' }]), 5000), 0, 'REPLICA_EXHAUSTED', 5000],
    ['503 UNAVAILABLE → REPLICA_EXHAUSTED with the default hint', status(503, google(503, 'UNAVAILABLE', 'The model is overloaded.')), 0, 'REPLICA_EXHAUSTED', 700],
    ['500 INTERNAL before tokens → WORKER_RESET (retriable)', status(500, google(500, 'INTERNAL', 'internal')), 0, 'WORKER_RESET', undefined],
    ['504 DEADLINE_EXCEEDED → WORKER_RESET', status(504, google(504, 'DEADLINE_EXCEEDED', 'deadline')), 0, 'WORKER_RESET', undefined],
    ['400 API_KEY_INVALID → ENGINE_ERROR (our configuration)', status(400, google(400, 'INVALID_ARGUMENT', 'API key not valid.', [{ reason: 'API_KEY_INVALID' }])), 0, 'ENGINE_ERROR', undefined],
    ['403 PERMISSION_DENIED → ENGINE_ERROR', status(403, google(403, 'PERMISSION_DENIED', 'denied')), 0, 'ENGINE_ERROR', undefined],
    ['404 NOT_FOUND → ENGINE_ERROR', status(404, google(404, 'NOT_FOUND', 'models/x is not found')), 0, 'ENGINE_ERROR', undefined],
    ['400 INVALID_ARGUMENT → INVALID_PARAMS', status(400, google(400, 'INVALID_ARGUMENT', '* GenerateContentRequest.generation_config.temperature: must be <= 2')), 0, 'INVALID_PARAMS', undefined],
    ['400 FAILED_PRECONDITION → ENGINE_ERROR', status(400, google(400, 'FAILED_PRECONDITION', 'User location is not supported for the API use.')), 0, 'ENGINE_ERROR', undefined],
    ['a non-JSON 502 from a proxy → WORKER_RESET', status(502, '<html>Bad Gateway</html>'), 0, 'WORKER_RESET', undefined],
    ['in-band 429 before tokens → REPLICA_EXHAUSTED', new UpstreamFailure('in-band', 'x', { inBand: { status: 429, type: 'RESOURCE_EXHAUSTED', message: 'quota' } }), 0, 'REPLICA_EXHAUSTED', 700],
    ['in-band 429 after tokens → WORKER_RESET', new UpstreamFailure('in-band', 'x', { inBand: { status: 429, type: 'RESOURCE_EXHAUSTED', message: 'quota' } }), 3, 'WORKER_RESET', undefined],
    ['truncated → WORKER_RESET', new UpstreamFailure('truncated', 't'), 2, 'WORKER_RESET', undefined],
  ];
  for (const [name, failure, tokens, code, retryAfterMs] of cases) {
    it(name, () => {
      const e = geminiError(failure, tokens, policy);
      expect(e.code).toBe(code);
      expect(e.retryAfterMs).toBe(retryAfterMs);
      expect(e.message).toContain('Gemini');
    });
  }

  it('names a context overflow without quoting the provider, which stays in upstreamDetail', () => {
    const e = geminiError(status(400, google(400, 'INVALID_ARGUMENT', 'The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).')), 0, policy);
    expect(e.code).toBe('INVALID_PARAMS');
    expect(e.message).toMatch(/context window/);
    expect(e.message).not.toContain('1200000');
    expect(e.upstreamDetail).toContain('INVALID_ARGUMENT: The input token count');
  });
});
