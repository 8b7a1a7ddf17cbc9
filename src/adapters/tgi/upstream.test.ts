import { describe, expect, it } from 'vitest';
import { EngineError } from '../contract.ts';
import { transportError, withBackoff } from './upstream.ts';

const withCode = (code: string) => Object.assign(new Error(`failed: ${code}`), { code });

describe('transportError', () => {
  const cases: Array<[unknown, string]> = [
    [withCode('ECONNREFUSED'), 'POOL_UNREADY'],
    [withCode('UND_ERR_CONNECT_TIMEOUT'), 'POOL_UNREADY'],
    [withCode('UND_ERR_HEADERS_TIMEOUT'), 'DECODE_TIMEOUT'],
    [withCode('UND_ERR_BODY_TIMEOUT'), 'DECODE_TIMEOUT'],
    [withCode('ECONNRESET'), 'WORKER_RESET'],
    [withCode('UND_ERR_SOCKET'), 'WORKER_RESET'],
    [new Error('wrapped', { cause: withCode('ECONNREFUSED') }), 'POOL_UNREADY'],
  ];
  for (const [err, code] of cases) {
    it(`maps ${(err as Error).message} to ${code}`, () => {
      expect(transportError(err).code).toBe(code);
    });
  }

  it('passes an EngineError through untouched', () => {
    const err = new EngineError('INVALID_PARAMS', 'bad');
    expect(transportError(err)).toBe(err);
  });
});

describe('withBackoff', () => {
  const policy = { retries: 3, baseMs: 1, capMs: 4, random: () => 0.5 };
  const signal = new AbortController().signal;

  it('retries transient failures and returns the first success', async () => {
    let calls = 0;
    const value = await withBackoff(policy, signal, async () => {
      calls++;
      if (calls < 3) throw new EngineError('WORKER_RESET', 'reset');
      return 'ok';
    });
    expect(value).toBe('ok');
    expect(calls).toBe(3);
  });

  it('gives up after the configured retries', async () => {
    let calls = 0;
    const failing = withBackoff(policy, signal, async () => {
      calls++;
      throw new EngineError('DECODE_TIMEOUT', 'slow');
    });
    await expect(failing).rejects.toMatchObject({ code: 'DECODE_TIMEOUT' });
    expect(calls).toBe(4);
  });

  it('does not retry a refused connection: that is an answer, not a glitch', async () => {
    let calls = 0;
    const failing = withBackoff(policy, signal, async () => {
      calls++;
      throw new EngineError('POOL_UNREADY', 'refused');
    });
    await expect(failing).rejects.toMatchObject({ code: 'POOL_UNREADY' });
    expect(calls).toBe(1);
  });

  it('stops waiting when the signal aborts and throws its reason', async () => {
    const ac = new AbortController();
    const reason = new Error('probe cancelled');
    const failing = withBackoff({ retries: 5, baseMs: 10_000, capMs: 10_000, random: () => 1 }, ac.signal, async () => {
      throw new EngineError('WORKER_RESET', 'reset');
    });
    setTimeout(() => ac.abort(reason), 5);
    await expect(failing).rejects.toBe(reason);
  });
});
