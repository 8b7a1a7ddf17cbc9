import { describe, expect, it } from 'vitest';
import { EngineError } from '../contract.ts';
import { UpstreamFailure } from '../../transport/upstream-failure.ts';
import { toEngineError, type ErrorPolicy } from './error-map.ts';

const policy: ErrorPolicy = {
  engine: 'test-engine',
  isLoading: (e, status) => status === 503 && /loading/i.test(e?.message ?? ''),
  overloadRetryAfterMs: 700,
};

const status = (code: number, body: unknown, retryAfterMs?: number) =>
  new UpstreamFailure('status', `HTTP ${code}`, { status: code, bodyText: JSON.stringify(body), ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
const inBand = (error: { status?: number; type?: string; message: string }) => new UpstreamFailure('in-band', 'in-band', { inBand: error });
const err = (code: string) => Object.assign(new Error(code), { code });

describe('toEngineError', () => {
  const cases: Array<[string, unknown, number, string, number | undefined]> = [
    ['connection refused → POOL_UNREADY', err('ECONNREFUSED'), 0, 'POOL_UNREADY', undefined],
    ['connect timeout → POOL_UNREADY', err('UND_ERR_CONNECT_TIMEOUT'), 0, 'POOL_UNREADY', undefined],
    ['headers timeout → DECODE_TIMEOUT', err('UND_ERR_HEADERS_TIMEOUT'), 0, 'DECODE_TIMEOUT', undefined],
    ['body idle timeout → DECODE_TIMEOUT', err('UND_ERR_BODY_TIMEOUT'), 4, 'DECODE_TIMEOUT', undefined],
    ['socket closed mid-stream → WORKER_RESET', err('UND_ERR_SOCKET'), 3, 'WORKER_RESET', undefined],
    ['ECONNRESET before any token → WORKER_RESET', err('ECONNRESET'), 0, 'WORKER_RESET', undefined],
    ['truncated stream → WORKER_RESET', new UpstreamFailure('truncated', 't'), 2, 'WORKER_RESET', undefined],
    ['malformed HTTP → ENGINE_ERROR', err('HPE_INVALID_CONSTANT'), 0, 'ENGINE_ERROR', undefined],
    ['503 loading → POOL_UNREADY', status(503, { error: { code: 503, message: 'Loading model' } }), 0, 'POOL_UNREADY', undefined],
    ['503 busy → REPLICA_EXHAUSTED with default hint', status(503, { error: { code: 503, message: 'no slot available' } }), 0, 'REPLICA_EXHAUSTED', 700],
    ['429 with Retry-After → REPLICA_EXHAUSTED with that hint', status(429, { object: 'error', message: 'busy', code: 429 }, 2000), 0, 'REPLICA_EXHAUSTED', 2000],
    ['400 → INVALID_PARAMS', status(400, { error: { message: 'bad', code: 400 } }), 0, 'INVALID_PARAMS', undefined],
    ['422 → INVALID_PARAMS', status(422, 'not json'), 0, 'INVALID_PARAMS', undefined],
    ['401 → ENGINE_ERROR (our misconfiguration, not the client’s)', status(401, { error: { message: 'no key' } }), 0, 'ENGINE_ERROR', undefined],
    ['500 → ENGINE_ERROR', status(500, { error: { message: 'oops' } }), 0, 'ENGINE_ERROR', undefined],
    ['in-band 500 after tokens → WORKER_RESET', inBand({ status: 500, message: 'boom' }), 5, 'WORKER_RESET', undefined],
    ['in-band 500 before tokens → WORKER_RESET', inBand({ status: 500, message: 'boom' }), 0, 'WORKER_RESET', undefined],
    ['in-band overload before tokens → REPLICA_EXHAUSTED', inBand({ status: 429, message: 'overloaded' }), 0, 'REPLICA_EXHAUSTED', 700],
    ['in-band validation before tokens → INVALID_PARAMS', inBand({ status: 400, message: 'bad' }), 0, 'INVALID_PARAMS', undefined],
    ['in-band overload after tokens → WORKER_RESET', inBand({ status: 429, message: 'overloaded' }), 1, 'WORKER_RESET', undefined],
    ['in-band error without status → WORKER_RESET', inBand({ message: 'weird' }), 0, 'WORKER_RESET', undefined],
  ];
  for (const [name, failure, tokens, code, retryAfterMs] of cases) {
    it(name, () => {
      const e = toEngineError(failure, tokens, policy);
      expect(e).toBeInstanceOf(EngineError);
      expect(e.code).toBe(code);
      expect(e.retryAfterMs).toBe(retryAfterMs);
      expect(e.message).toContain('test-engine');
    });
  }

  // ORCH-0009 ORCH-0603
  it('keeps upstream text out of the message and in upstreamDetail', () => {
    const e = toEngineError(status(500, { error: { message: 'secret path /home/x/model.gguf', type: 'server_error' } }), 0, policy);
    expect(e.message).not.toContain('secret');
    expect(e.upstreamDetail).toContain('secret path');
    expect(e.upstreamStatus).toBe(500);
  });

  it('names context overflow without quoting the engine', () => {
    const e = toEngineError(status(400, { error: { message: 'x', type: 'exceed_context_size_error', code: 400 } }), 0, policy);
    expect(e.message).toMatch(/context window/);
  });

  it('passes an EngineError through untouched', () => {
    const original = new EngineError('DECODE_TIMEOUT', 'mine');
    expect(toEngineError(original, 0, policy)).toBe(original);
  });
});
