import { describe, expect, it } from 'vitest';
import { UpstreamFailure } from '../../transport/upstream-failure.ts';
import { ollamaError, ollamaErrorPolicy } from './errors.ts';

const policy = ollamaErrorPolicy(700);
const status = (code: number, error: string) => new UpstreamFailure('status', `HTTP ${code}`, { status: code, bodyText: JSON.stringify({ error }) });

describe('ollamaError', () => {
  const cases: Array<[string, unknown, number, string, number | undefined]> = [
    ['503 full queue → REPLICA_EXHAUSTED with the default hint', status(503, 'server busy, please try again.  maximum pending requests exceeded'), 0, 'REPLICA_EXHAUSTED', 700],
    ['429 → REPLICA_EXHAUSTED', status(429, 'too many requests'), 0, 'REPLICA_EXHAUSTED', 700],
    ['500 runner crash before tokens → WORKER_RESET (retriable)', status(500, 'llama runner process has terminated: exit status 2'), 0, 'WORKER_RESET', undefined],
    ['502 from a proxy → WORKER_RESET', status(502, 'bad gateway'), 0, 'WORKER_RESET', undefined],
    ['404 unpulled model → ENGINE_ERROR', status(404, 'model "x" not found, try pulling it first'), 0, 'ENGINE_ERROR', undefined],
    ['400 → INVALID_PARAMS', status(400, 'invalid options'), 0, 'INVALID_PARAMS', undefined],
    ['error line after tokens → WORKER_RESET', new UpstreamFailure('in-band', 'x', { inBand: { message: 'unexpected EOF' } }), 3, 'WORKER_RESET', undefined],
    ['connection refused → POOL_UNREADY', Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), 0, 'POOL_UNREADY', undefined],
  ];
  for (const [name, failure, tokens, code, retryAfterMs] of cases) {
    it(name, () => {
      const e = ollamaError(failure, tokens, policy);
      expect(e.code).toBe(code);
      expect(e.retryAfterMs).toBe(retryAfterMs);
      expect(e.message).toContain('Ollama');
      expect(e.message).not.toMatch(/pulling|runner|busy/);
    });
  }
});
