import { describe, expect, it } from 'vitest';
import { EngineError, type CanonicalEvent, type CanonicalRequest } from '../contract.ts';
import { createMockAdapter } from './adapter.ts';
import { mockTokens } from './tokens.ts';

const timeouts = { connectMs: 1000, firstByteMs: 1000, idleMs: 1000 };
const fast = { tokens_per_s: 100_000, first_token_delay_ms: 0 };
const adapter = (mock = {}) =>
  createMockAdapter({ baseUrl: '', model: 'demo', timeouts, options: {}, slots: 2, mock: { ...fast, ...mock } });
const req = (over: Partial<CanonicalRequest> = {}): CanonicalRequest => ({
  taskId: 't1', model: 'demo', prompt: 'hello', maxTokens: 12, seed: 7, ...over,
});

async function collect(it: AsyncIterable<CanonicalEvent>): Promise<CanonicalEvent[]> {
  const out: CanonicalEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

describe('mock adapter', () => {
  // ORCH-0606
  it('emits exactly max_tokens deterministic tokens and finishes with length', async () => {
    const events = await collect(adapter().stream(req(), new AbortController().signal));
    const tokens = events.filter((e) => e.type === 'token').map((e) => (e as { text: string }).text);
    expect(tokens).toEqual(mockTokens('hello', 7, 12));
    expect(events.at(-1)).toEqual({ type: 'end', finishReason: 'length', completionTokens: 12 });
  });

  // ORCH-0606 ORCH-0607
  it('changes the stream when the seed changes', () => {
    expect(mockTokens('hello', 7, 16)).not.toEqual(mockTokens('hello', 8, 16));
  });

  // ORCH-0606
  it('stops early with finish reason stop when a stop sequence appears', async () => {
    const all = mockTokens('hello', 7, 50);
    const stopWord = all[5] as string;
    const firstHit = all.findIndex((t) => t.includes(stopWord));
    const events = await collect(adapter().stream(req({ maxTokens: 50, stop: [stopWord] }), new AbortController().signal));
    expect(events.at(-1)).toEqual({ type: 'end', finishReason: 'stop', completionTokens: firstHit + 1, stopSequence: stopWord });
  });

  // ORCH-0606
  it('stops on a stop sequence that spans several tokens', async () => {
    const all = mockTokens('hello', 7, 50);
    // The end of token 3, all of token 4 and the start of token 5.
    const stopWord = `${(all[3] as string).slice(-2)}${all[4] as string}${(all[5] as string).slice(0, 2)}`;
    const firstHit = all.findIndex((_, i) => all.slice(0, i + 1).join('').includes(stopWord));
    const events = await collect(adapter().stream(req({ maxTokens: 50, stop: ['never appears', stopWord] }), new AbortController().signal));
    expect(firstHit).toBeGreaterThanOrEqual(5);
    expect(events.at(-1)).toEqual({ type: 'end', finishReason: 'stop', completionTokens: firstHit + 1, stopSequence: stopWord });
  });

  // ORCH-0606
  it('throws WORKER_RESET at the configured token', async () => {
    const seen: CanonicalEvent[] = [];
    const run = async () => {
      for await (const e of adapter({ fail_at_token: 3 }).stream(req(), new AbortController().signal)) seen.push(e);
    };
    await expect(run()).rejects.toMatchObject({ code: 'WORKER_RESET' });
    expect(seen).toHaveLength(3);
  });

  it('hangs until aborted when told to', async () => {
    const ac = new AbortController();
    const run = collect(adapter({ hang_at_token: 2 }).stream(req(), ac.signal));
    setTimeout(() => ac.abort(new Error('stop')), 20);
    await expect(run).rejects.toThrow('stop');
  });

  it('rejects at once when it would hang on an already-aborted signal', async () => {
    const ac = new AbortController();
    ac.abort(new Error('gone'));
    await expect(collect(adapter({ hang_at_token: 0 }).stream(req(), ac.signal))).rejects.toThrow('gone');
  });

  it('can fail before the first token', async () => {
    await expect(collect(adapter({ reset_before_first_token: true }).stream(req(), new AbortController().signal)))
      .rejects.toBeInstanceOf(EngineError);
  });
});
