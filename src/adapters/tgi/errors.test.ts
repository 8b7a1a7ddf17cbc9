import { describe, expect, it } from 'vitest';
import { UpstreamFailure } from '../../transport/upstream-failure.ts';
import { tgiError, tgiErrorPolicy, tgiStatusError, tgiStreamError } from './errors.ts';

const policy = tgiErrorPolicy(1_500);

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
      expect(tgiStreamError({ message: 'upstream says so', type }, 0, policy).code).toBe(code);
    });
  }

  it('maps every error after the first token to WORKER_RESET', () => {
    for (const [type] of before) expect(tgiStreamError({ message: 'x', type }, 3, policy).code).toBe('WORKER_RESET');
  });

  it('gives in-band overload the configured retry hint', () => {
    expect(tgiStreamError({ message: 'Model is overloaded', type: 'overloaded' }, 0, policy).retryAfterMs).toBe(1_500);
  });

  it('keeps upstream text out of the client message', () => {
    const err = tgiStreamError({ message: 'secret path /models/private', type: 'generation' }, 0, policy);
    expect(err.message).not.toContain('secret');
    expect(err.upstreamDetail).toBe('generation: secret path /models/private');
  });
});

describe('tgiStatusError', () => {
  it('prefers the error_type of a TGI error body over the status', () => {
    expect(tgiStatusError(429, '{"error":"Model is overloaded","error_type":"overloaded"}', 2_000, policy)).toMatchObject({
      code: 'REPLICA_EXHAUSTED', retryAfterMs: 2_000, upstreamStatus: 429,
    });
    expect(tgiStatusError(424, '{"error":"boom","error_type":"generation"}', undefined, policy).code).toBe('WORKER_RESET');
  });

  const byStatus: Array<[number, string]> = [[422, 'INVALID_PARAMS'], [400, 'INVALID_PARAMS'], [429, 'REPLICA_EXHAUSTED'], [503, 'POOL_UNREADY'], [404, 'ENGINE_ERROR'], [500, 'ENGINE_ERROR']];
  for (const [status, code] of byStatus) {
    it(`maps a plain HTTP ${status} to ${code}`, () => {
      expect(tgiStatusError(status, 'Failed to deserialize the JSON body', undefined, policy).code).toBe(code);
    });
  }

  it('bounds the upstream detail it keeps', () => {
    expect(tgiStatusError(500, 'x'.repeat(5_000), undefined, policy).upstreamDetail?.length).toBeLessThanOrEqual(530);
  });
});

describe('tgiError', () => {
  const kinds: Array<[UpstreamFailure, string]> = [
    [new UpstreamFailure('refused', 'connect ECONNREFUSED'), 'POOL_UNREADY'],
    [new UpstreamFailure('first-byte-timeout', 'headers timeout'), 'DECODE_TIMEOUT'],
    [new UpstreamFailure('idle-timeout', 'body timeout'), 'DECODE_TIMEOUT'],
    [new UpstreamFailure('reset', 'other side closed'), 'WORKER_RESET'],
    [new UpstreamFailure('truncated', 'no final event'), 'WORKER_RESET'],
    [new UpstreamFailure('status', 'HTTP 422', { status: 422, bodyText: 'Failed to deserialize' }), 'INVALID_PARAMS'],
    [new UpstreamFailure('in-band', 'in-band', { inBand: { type: 'overloaded', message: 'Model is overloaded' } }), 'REPLICA_EXHAUSTED'],
  ];
  for (const [failure, code] of kinds) {
    it(`maps a ${failure.kind} failure to ${code}`, () => {
      expect(tgiError(failure, 0, policy).code).toBe(code);
    });
  }
});
