import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { engineScrapeIntervalMs, startEngineScraper, type EngineScraper, type ScrapeTarget } from './engine-scraper.ts';

const fixture = (name: string): string => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');
const LLAMA = fixture('llamacpp.metrics.txt');
const VLLM = fixture('vllm.metrics.txt');

type MetricsText = (signal: AbortSignal) => Promise<string | undefined>;

function replica(id: string, metricsText?: MetricsText) {
  return { id, adapter: metricsText === undefined ? {} : { metricsText } };
}

let scraper: EngineScraper | undefined;
afterEach(() => scraper?.stop());

function start(pools: () => ScrapeTarget[], over: { intervalMs?: number; timeoutMs?: number } = {}) {
  const logger = { debug: vi.fn() };
  scraper = startEngineScraper({ pools, intervalMs: over.intervalMs ?? 60_000, timeoutMs: over.timeoutMs ?? 1_000, logger });
  return { scraper, logger };
}

describe('startEngineScraper', () => {
  it('scrapes every replica that serves metrics and keeps its numbers per pool and replica', async () => {
    const pools = [
      { id: 'llama', replicas: [replica('a', async () => LLAMA), replica('b', async () => undefined)] },
      { id: 'vllm', replicas: [replica('a', async () => VLLM), replica('mock', undefined)] },
    ];
    const { scraper } = start(() => pools);
    await scraper.refresh();
    expect(scraper.of('llama', 'a')).toEqual({ kv_cache_usage_ratio: 0.376, requests_waiting: 2, requests_running: 3 });
    expect(scraper.of('vllm', 'a')).toEqual({ kv_cache_usage_ratio: 0.5208, requests_waiting: 5, requests_running: 5 });
    expect(scraper.of('llama', 'b')).toBeUndefined(); // metrics off
    expect(scraper.of('vllm', 'mock')).toBeUndefined(); // adapter without metricsText
    expect(scraper.of('nope', 'a')).toBeUndefined();
  });

  it('a failed scrape clears that replica only and logs at debug', async () => {
    let fail = false;
    const pools = [{ id: 'p', replicas: [replica('a', async () => (fail ? Promise.reject(new Error('refused')) : LLAMA)), replica('b', async () => LLAMA)] }];
    const { scraper, logger } = start(() => pools);
    await scraper.refresh();
    expect(scraper.of('p', 'a')).toBeDefined();
    fail = true;
    await scraper.refresh();
    expect(scraper.of('p', 'a')).toBeUndefined();
    expect(scraper.of('p', 'b')?.requests_running).toBe(3);
    expect(logger.debug).toHaveBeenCalledWith(expect.objectContaining({ pool_id: 'p', replica_id: 'a' }), 'engine metrics scrape failed');
  });

  it('drops the entries of replicas and pools that are gone', async () => {
    let pools: ScrapeTarget[] = [
      { id: 'p', replicas: [replica('a', async () => LLAMA), replica('b', async () => LLAMA)] },
      { id: 'q', replicas: [replica('a', async () => LLAMA)] },
    ];
    const { scraper } = start(() => pools);
    await scraper.refresh();
    expect(scraper.of('p', 'b')).toBeDefined();
    pools = [{ id: 'p', replicas: [replica('a', async () => LLAMA)] }];
    await scraper.refresh();
    expect(scraper.of('p', 'a')).toBeDefined();
    expect(scraper.of('p', 'b')).toBeUndefined();
    expect(scraper.of('q', 'a')).toBeUndefined();
  });

  it('a hanging engine is aborted after timeoutMs and does not hold the others back', async () => {
    let aborted = false;
    const hang: MetricsText = (signal) =>
      new Promise((_, reject) => signal.addEventListener('abort', () => ((aborted = true), reject(signal.reason as Error))));
    const pools = [{ id: 'p', replicas: [replica('slow', hang), replica('fast', async () => LLAMA)] }];
    const { scraper } = start(() => pools, { timeoutMs: 50 });
    await scraper.refresh();
    expect(aborted).toBe(true);
    expect(scraper.of('p', 'slow')).toBeUndefined();
    expect(scraper.of('p', 'fast')).toBeDefined();
  });

  it('scrapes on its timer, one round at a time', async () => {
    let calls = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const pools = [{ id: 'p', replicas: [replica('a', async () => (calls++, await gate, LLAMA))] }];
    const { scraper } = start(() => pools, { intervalMs: 10, timeoutMs: 5_000 });
    // Several ticks pass while the first scrape is still under way: no second scrape starts.
    await new Promise((r) => setTimeout(r, 60));
    expect(calls).toBe(1);
    release();
    await vi.waitFor(() => expect(calls).toBeGreaterThanOrEqual(3), { timeout: 2_000 });
    expect(scraper.of('p', 'a')?.kv_cache_usage_ratio).toBe(0.376);
  });

  it('stop() aborts the scrape under way and forgets every entry', async () => {
    let signalSeen: AbortSignal | undefined;
    let first = true;
    const pools = [
      {
        id: 'p',
        replicas: [
          replica('a', (signal) => {
            if (first) return ((first = false), Promise.resolve(LLAMA));
            signalSeen = signal;
            return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
          }),
        ],
      },
    ];
    const { scraper, logger } = start(() => pools, { timeoutMs: 60_000 });
    await scraper.refresh();
    expect(scraper.of('p', 'a')).toBeDefined();
    const round = scraper.refresh();
    scraper.stop();
    await round;
    expect(signalSeen?.aborted).toBe(true);
    expect(scraper.of('p', 'a')).toBeUndefined();
    expect(logger.debug).not.toHaveBeenCalled();
  });
});

describe('engineScrapeIntervalMs', () => {
  it('follows the fastest probe interval, never under 1 s', () => {
    expect(engineScrapeIntervalMs([{ health: { interval_ms: 2_000 } }, { health: { interval_ms: 3_000 } }])).toBe(2_000);
    expect(engineScrapeIntervalMs([{ health: { interval_ms: 50 } }])).toBe(1_000);
    expect(engineScrapeIntervalMs([])).toBe(5_000);
  });
});
