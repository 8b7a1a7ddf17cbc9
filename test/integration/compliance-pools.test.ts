// Pool requirements below the journeys: the health prober backs off exponentially with a cap
// while an engine fails and returns to its interval once it is healthy, driving the replica's
// state; and the rule that only src/adapters/registry.ts switches on engine kind, whose two
// remaining exceptions are tracked here (requirements/pending.yaml) so none is added unnoticed.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WorkerAdapter } from '../../src/adapters/contract.ts';
import { createMockAdapter } from '../../src/adapters/mock/adapter.ts';
import { systemClock } from '../../src/system-clock.ts';
import { dateTimerClock } from '../support/fake-clock.ts';
import { startProber } from '../../src/pool/prober.ts';
import { Replica } from '../../src/pool/replica.ts';
import { testConfig } from '../support/gateway.ts';

afterEach(() => {
  vi.useRealTimers();
});

/** A mock engine whose health the test switches; every health call is timestamped. */
function switchableEngine() {
  const mock = createMockAdapter({ baseUrl: '', model: 'demo', timeouts: { connectMs: 100, firstByteMs: 100, idleMs: 100 }, options: {}, slots: 1, mock: {} });
  const calls: number[] = [];
  let healthy = false;
  const adapter: WorkerAdapter = {
    kind: 'mock',
    capabilities: mock.capabilities,
    health: async () => {
      calls.push(Date.now());
      return healthy ? { live: true, ready: true } : { live: false, ready: false, detail: 'refused' };
    },
    props: (signal) => mock.props(signal),
    stream: (req, signal) => mock.stream(req, signal),
    close: () => mock.close(),
  };
  return { adapter, calls, heal: () => (healthy = true) };
}

describe('health prober', () => {
  it('ORCH-0501 backs off exponentially up to the cap while failing, then probes at its interval once ready', async () => {
    vi.useFakeTimers({ now: 0 });
    const pool = testConfig().pools[0];
    if (!pool) throw new Error('test config has no pool');
    const engine = switchableEngine();
    const replica = new Replica({ pool, config: { id: 'r0' }, adapter: engine.adapter, clock: systemClock, defaultSlots: 1 });
    const prober = startProber(replica, {
      intervalMs: 100,
      maxBackoffMs: 400,
      timeoutMs: 50,
      logger: pino({ level: 'silent' }),
      onChange: () => {},
      clock: dateTimerClock(),
      random: () => 0.999, // the top of the full-jitter range, so each wait shows its bound
    });
    try {
      await vi.advanceTimersByTimeAsync(2_000);
      expect(replica.state).toBe('starting');
      const gaps = engine.calls.slice(1, 6).map((t, i) => t - (engine.calls[i] ?? 0));
      // 100·2^1, 100·2^2, then capped at 400 (× 0.999, floored)
      expect(gaps).toEqual([199, 399, 399, 399, 399]);
      engine.heal();
      await vi.advanceTimersByTimeAsync(400);
      expect(replica.state).toBe('ready');
      const healedAt = engine.calls.length;
      await vi.advanceTimersByTimeAsync(1_000);
      const steady = engine.calls.slice(healedAt).map((t, i) => t - (engine.calls[healedAt + i - 1] ?? 0));
      expect(steady.length).toBeGreaterThanOrEqual(9);
      expect(new Set(steady.slice(1))).toEqual(new Set([100]));
    } finally {
      prober.stop();
    }
  });
});

describe('the single engine switch', () => {
  const ROOT = join(import.meta.dirname, '../..');
  const ENGINE_COMPARISON = /(?:[!=]==?\s*'(?:mock|llamacpp|vllm|tgi|triton|gemini|ollama)'|'(?:mock|llamacpp|vllm|tgi|triton|gemini|ollama)'\s*[!=]==?|case '(?:mock|llamacpp|vllm|tgi|triton|gemini|ollama)':)/;
  // Engine folders and the registry may name engines; nothing else may.
  const KNOWN: string[] = [];

  function sources(dir: string): string[] {
    return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) return /^src\/(generated|adapters\/(mock|llamacpp|vllm|tgi|triton|gemini|ollama|openai-compat))$/.test(rel) ? [] : sources(rel);
      return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && rel !== 'src/adapters/registry.ts' ? [rel] : [];
    });
  }

  // ORCH-0600
  it('has no engine-kind comparison outside the registry and the engine folders', () => {
    const offenders = sources('src').filter((file) => ENGINE_COMPARISON.test(readFileSync(join(ROOT, file), 'utf8')));
    expect(offenders.sort()).toEqual(KNOWN);
  });
});
