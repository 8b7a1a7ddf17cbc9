import { describe, expect, it } from 'vitest';
import { UpstreamFailure } from '../../transport/upstream-failure.ts';
import { tritonError, tritonErrorPolicy, tritonStatusError, tritonStreamError } from './errors.ts';

const policy = tritonErrorPolicy(750);

describe('tritonStatusError', () => {
  const cases: Array<[number, string, string]> = [
    [400, `{"error":"unexpected inference input 'foo' for model 'ensemble'"}`, 'INVALID_PARAMS'],
    [404, `{"error":"Request for unknown model: 'x' is not found"}`, 'ENGINE_ERROR'],
    [500, '{"error":"Encountered an error when executing the model"}', 'ENGINE_ERROR'],
    [501, '{"error":"unsupported"}', 'ENGINE_ERROR'],
    [503, '{"error":"Exceeds maximum queue size"}', 'REPLICA_EXHAUSTED'],
    [503, `{"error":"Request for unknown model: 'ensemble' has no available versions"}`, 'POOL_UNREADY'],
    [429, 'Too Many Requests', 'REPLICA_EXHAUSTED'],
  ];
  for (const [status, body, code] of cases) {
    it(`maps HTTP ${status} ${body} to ${code}`, () => {
      expect(tritonStatusError(status, body, undefined, policy).code).toBe(code);
    });
  }

  it('gives queue-full a retry hint, preferring Retry-After', () => {
    expect(tritonStatusError(503, '{"error":"Exceeds maximum queue size"}', undefined, policy).retryAfterMs).toBe(750);
    expect(tritonStatusError(503, '{"error":"Exceeds maximum queue size"}', 3_000, policy).retryAfterMs).toBe(3_000);
  });

  it('keeps the upstream text out of the client message', () => {
    const err = tritonStatusError(400, '{"error":"secret /models/private"}', undefined, policy);
    expect(err.message).not.toContain('secret');
    expect(err.upstreamDetail).toBe('HTTP 400 secret /models/private');
  });
});

describe('tritonStreamError', () => {
  it('is WORKER_RESET after the first token, whatever the text', () => {
    expect(tritonStreamError({ message: 'Exceeds maximum queue size' }, 2, policy).code).toBe('WORKER_RESET');
    expect(tritonStreamError({ message: 'illegal memory access' }, 2, policy).code).toBe('WORKER_RESET');
  });

  it('is REPLICA_EXHAUSTED for a queue rejection before any token', () => {
    expect(tritonStreamError({ message: 'Exceeds maximum queue size' }, 0, policy)).toMatchObject({ code: 'REPLICA_EXHAUSTED', retryAfterMs: 750 });
  });
});

describe('tritonError', () => {
  const kinds: Array<[UpstreamFailure, string]> = [
    [new UpstreamFailure('refused', 'connect ECONNREFUSED'), 'POOL_UNREADY'],
    [new UpstreamFailure('first-byte-timeout', 'headers timeout'), 'DECODE_TIMEOUT'],
    [new UpstreamFailure('idle-timeout', 'body timeout'), 'DECODE_TIMEOUT'],
    [new UpstreamFailure('reset', 'other side closed'), 'WORKER_RESET'],
    [new UpstreamFailure('status', 'HTTP 400', { status: 400, bodyText: '{"error":"bad"}' }), 'INVALID_PARAMS'],
    [new UpstreamFailure('in-band', 'in-band', { inBand: { message: 'boom' } }), 'WORKER_RESET'],
  ];
  for (const [failure, code] of kinds) {
    it(`maps a ${failure.kind} failure to ${code}`, () => {
      expect(tritonError(failure, 0, policy).code).toBe(code);
    });
  }
});
