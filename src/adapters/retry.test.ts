import { describe, expect, it } from 'vitest';
import { abortableSleep, withRetry, type BackoffPolicy } from './retry.ts';

const policy: BackoffPolicy = { attempts: 4, baseMs: 10, capMs: 50 };

// ORCH-0602
describe('withRetry', () => {
  const signal = new AbortController().signal;

  it('retries until success and sleeps the jittered delays in between', async () => {
    const slept: number[] = [];
    let calls = 0;
    const value = await withRetry(
      async () => {
        calls++;
        if (calls < 3) throw new Error('transient');
        return 'ok';
      },
      { policy, signal, shouldRetry: () => true, random: () => 0.5, sleep: async (ms) => void slept.push(ms) },
    );
    expect(value).toBe('ok');
    expect(calls).toBe(3);
    expect(slept).toEqual([5, 10]);
  });

  it('gives up after the last attempt with the last error', async () => {
    let calls = 0;
    const run = withRetry(
      async () => {
        calls++;
        throw new Error(`fail ${calls}`);
      },
      { policy, signal, shouldRetry: () => true, sleep: async () => undefined },
    );
    await expect(run).rejects.toThrow('fail 4');
    expect(calls).toBe(4);
  });

  it('does not retry an error the predicate refuses', async () => {
    let calls = 0;
    const run = withRetry(
      async () => {
        calls++;
        throw new Error('permanent');
      },
      { policy, signal, shouldRetry: () => false, sleep: async () => undefined },
    );
    await expect(run).rejects.toThrow('permanent');
    expect(calls).toBe(1);
  });

  it('stops sleeping when the signal aborts and rejects with its reason', async () => {
    const ctl = new AbortController();
    const sleeping = abortableSleep(10_000, ctl.signal);
    ctl.abort(new Error('shutdown'));
    await expect(sleeping).rejects.toThrow('shutdown');
  });
});
