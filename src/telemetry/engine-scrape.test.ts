import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseEngineMetrics } from './engine-scrape.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}.metrics.txt`, import.meta.url), 'utf8');

describe('parseEngineMetrics', () => {
  it.each([
    ['llamacpp', { kv_cache_usage_ratio: 0.376, requests_waiting: 2, requests_running: 3 }],
    ['llamacpp-no-kv', { requests_waiting: 0, requests_running: 0 }],
    ['vllm', { kv_cache_usage_ratio: 0.5208, requests_waiting: 5, requests_running: 5 }],
    ['vllm-legacy', { kv_cache_usage_ratio: 0.0871, requests_waiting: 0, requests_running: 6 }],
    ['tgi', { requests_waiting: 7, requests_running: 12 }],
    ['triton', { kv_cache_usage_ratio: 0.415, requests_waiting: 5, requests_running: 9 }],
    ['triton-no-fraction', { kv_cache_usage_ratio: 1560 / 6239, requests_waiting: 3 }],
  ])('reads the key numbers from a %s scrape', (name, expected) => {
    expect(parseEngineMetrics(fixture(name))).toEqual(expected);
  });

  it('prefers vllm:kv_cache_usage_perc over the deprecated gpu_cache_usage_perc when both are served', () => {
    const text = 'vllm:gpu_cache_usage_perc{model_name="m"} 0.9\nvllm:kv_cache_usage_perc{model_name="m"} 0.2\n';
    expect(parseEngineMetrics(text).kv_cache_usage_ratio).toBe(0.2);
  });

  it('returns nothing for an empty, foreign or broken scrape instead of inventing zeros', () => {
    expect(parseEngineMetrics('')).toEqual({});
    expect(parseEngineMetrics('# HELP go_goroutines x\n# TYPE go_goroutines gauge\ngo_goroutines 12\n')).toEqual({});
    expect(parseEngineMetrics('{"error":{"code":501,"message":"This server does not support metrics endpoint."}}')).toEqual({});
    expect(parseEngineMetrics('llamacpp:requests_deferred NaN\nllamacpp:requests_processing 1\n')).toEqual({ requests_running: 1 });
  });
});
