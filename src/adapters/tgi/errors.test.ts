import { describe, expect, it } from 'vitest';
import { tgiHttpError, tgiStreamError } from './errors.ts';

describe('tgiStreamError', () => {
  const before: Array<[string, string]> = [
    ['overloaded', 'REPLICA_EXHAUSTED'],
    ['validation', 'INVALID_PARAMS'],
    ['generation', 'WORKER_RESET'],
    ['incomplete_generation', 'WORKER_RESET'],
    ['incomplete_generation_stream', 'WORKER_RESET'],
    ['template_error', 'ENGINE_ERROR'],
    ['unreadable_event', 'ENGINE_ERROR'],
  ];
  for (const [type, code] of before) {
    it(`maps ${type} before the first token to ${code}`, () => {
      expect(tgiStreamError({ message: 'upstream says so', type }, false).code).toBe(code);
    });
  }

  it('maps every error after the first token to WORKER_RESET', () => {
    for (const [type] of before) expect(tgiStreamError({ message: 'x', type }, true).code).toBe('WORKER_RESET');
  });

  it('keeps upstream text out of the client message', () => {
    const err = tgiStreamError({ message: 'secret path /models/private', type: 'generation' }, false);
    expect(err.message).not.toContain('secret');
    expect(err.upstreamDetail).toBe('generation: secret path /models/private');
  });
});

describe('tgiHttpError', () => {
  it('prefers the error_type of a TGI error body over the status', () => {
    expect(tgiHttpError(429, '{"error":"Model is overloaded","error_type":"overloaded"}', 2_000)).toMatchObject({
      code: 'REPLICA_EXHAUSTED', retryAfterMs: 2_000, upstreamStatus: 429,
    });
    expect(tgiHttpError(424, '{"error":"boom","error_type":"generation"}', undefined).code).toBe('WORKER_RESET');
  });

  const byStatus: Array<[number, string]> = [[422, 'INVALID_PARAMS'], [400, 'INVALID_PARAMS'], [429, 'REPLICA_EXHAUSTED'], [503, 'POOL_UNREADY'], [404, 'ENGINE_ERROR'], [500, 'ENGINE_ERROR']];
  for (const [status, code] of byStatus) {
    it(`maps a plain HTTP ${status} to ${code}`, () => {
      expect(tgiHttpError(status, 'Failed to deserialize the JSON body', undefined).code).toBe(code);
    });
  }

  it('bounds the upstream detail it keeps', () => {
    expect(tgiHttpError(500, 'x'.repeat(5_000), undefined).upstreamDetail?.length).toBeLessThanOrEqual(513);
  });
});
