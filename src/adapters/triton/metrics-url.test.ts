import { describe, expect, it } from 'vitest';
import { parseOptions } from '../http/http-options.ts';
import { createTritonAdapter } from './adapter.ts';
import { TritonOptionsSchema, tritonMetricsUrl } from './options.ts';

const TIMEOUTS = { connectMs: 1_000, firstByteMs: 1_000, idleMs: 1_000 };

describe('Triton metrics endpoint', () => {
  it('defaults to the replica host on port 8002 at /metrics, whatever the API path', () => {
    expect(tritonMetricsUrl('http://10.0.0.7:8000', undefined).href).toBe('http://10.0.0.7:8002/metrics');
    expect(tritonMetricsUrl('https://triton.internal/api?x=1', undefined).href).toBe('https://triton.internal:8002/metrics');
  });

  it('metrics_url wins over the default', () => {
    expect(tritonMetricsUrl('http://10.0.0.7:8000', 'http://metrics.internal:9400/triton/metrics').href).toBe('http://metrics.internal:9400/triton/metrics');
  });

  it('the options schema refuses a metrics_url that is not an http(s) URL', () => {
    expect(parseOptions(TritonOptionsSchema, { ctx_max: 4096, metrics_url: 'http://h:8002/metrics' }, 'triton').metrics_url).toBe('http://h:8002/metrics');
    for (const bad of ['h:8002/metrics', 'ftp://h/metrics', 'http://', 'http://h x/metrics']) {
      expect(() => parseOptions(TritonOptionsSchema, { ctx_max: 4096, metrics_url: bad }, 'triton'), bad).toThrow(/metrics_url/);
    }
  });

  it('the adapter refuses a bad metrics_url when it is built', () => {
    const init = { baseUrl: 'http://127.0.0.1:8000', model: 'ensemble', timeouts: TIMEOUTS };
    expect(() => createTritonAdapter({ ...init, options: { ctx_max: 4096, metrics_url: 'http://' } })).toThrow(/metrics_url/);
  });
});
