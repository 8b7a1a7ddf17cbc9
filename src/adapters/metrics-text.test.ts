// metricsText() of every HTTP adapter against its protocol-faithful fake over real HTTP: the
// text the engine serves, "no metrics" (llama-server without --metrics, 404) as undefined,
// other answers as EngineError, and Triton's separate metrics port.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseEngineMetrics } from '../telemetry/engine-scrape.ts';
import { EngineError, type AdapterInit, type AdapterTimeouts, type WorkerAdapter } from './contract.ts';
import { createLlamacppAdapter } from './llamacpp/adapter.ts';
import { startLlamacppFake } from '../../test/fakes/llamacpp/fake.ts';
import { createTgiAdapter } from './tgi/adapter.ts';
import { startTgiFake } from '../../test/fakes/tgi/fake.ts';
import { createTritonAdapter } from './triton/adapter.ts';
import { startTritonFake } from '../../test/fakes/triton/fake.ts';
import { createVllmAdapter } from './vllm/adapter.ts';
import { startVllmFake } from '../../test/fakes/vllm/fake.ts';

const TIMEOUTS: AdapterTimeouts = { connectMs: 1_000, firstByteMs: 2_000, idleMs: 2_000 };
const never = () => new AbortController().signal;
const cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

function init(baseUrl: string, options: Record<string, unknown> = {}): AdapterInit {
  return { baseUrl, model: 'fake-model', timeouts: TIMEOUTS, options };
}

function track<T extends { close(): Promise<void> }>(x: T): T {
  cleanup.push(() => x.close());
  return x;
}

async function metricsOf(adapter: WorkerAdapter): Promise<string | undefined> {
  expect(adapter.metricsText).toBeTypeOf('function');
  return adapter.metricsText?.(never());
}

describe('metricsText', () => {
  it('llama.cpp: reads llamacpp: series from /metrics', async () => {
    const fake = track(await startLlamacppFake({ metrics: { kvCacheUsageRatio: 0.5, waiting: 3, running: 1 } }));
    const adapter = track(createLlamacppAdapter(init(fake.url, { api_key: 'secret-key' })));
    const text = await metricsOf(adapter);
    expect(text).toContain('# TYPE llamacpp:kv_cache_usage_ratio gauge');
    expect(parseEngineMetrics(text ?? '')).toEqual({ kv_cache_usage_ratio: 0.5, requests_waiting: 3, requests_running: 1 });
    const seen = fake.seen.find((r) => r.path === '/metrics');
    expect(seen?.headers['authorization']).toBe('Bearer secret-key');
  });

  it('llama.cpp: live gauges follow the slots (busy slot, cached prompt)', async () => {
    const fake = track(await startLlamacppFake({ slots: 2, nCtx: 64, tokensPerS: 50 }));
    const adapter = track(createLlamacppAdapter(init(fake.url)));
    const idle = parseEngineMetrics((await metricsOf(adapter)) ?? '');
    expect(idle).toEqual({ kv_cache_usage_ratio: 0, requests_waiting: 0, requests_running: 0 });
    const controller = new AbortController();
    const iterator = adapter.stream({ taskId: 't', model: 'fake-model', prompt: 'one two three four', maxTokens: 20 }, controller.signal)[Symbol.asyncIterator]();
    await iterator.next();
    const busy = parseEngineMetrics((await metricsOf(adapter)) ?? '');
    expect(busy.requests_running).toBe(1);
    controller.abort();
    await iterator.next().catch(() => undefined);
    await fake.settled(0);
    const after = parseEngineMetrics((await metricsOf(adapter)) ?? '');
    expect(after.requests_running).toBe(0);
    expect(after.kv_cache_usage_ratio).toBeGreaterThan(0);
  });

  it('llama.cpp without --metrics (501) resolves undefined', async () => {
    const fake = track(await startLlamacppFake({ metrics: false }));
    const adapter = track(createLlamacppAdapter(init(fake.url)));
    expect(await metricsOf(adapter)).toBeUndefined();
  });

  it('vLLM: reads vllm: series from /metrics', async () => {
    const fake = track(await startVllmFake({ metrics: { kvCacheUsageRatio: 0.125, waiting: 4, running: 7 } }));
    const adapter = track(createVllmAdapter(init(fake.url)));
    const text = await metricsOf(adapter);
    expect(text).toContain('vllm:num_requests_running{engine="0",model_name="fake-model"} 7.0');
    expect(parseEngineMetrics(text ?? '')).toEqual({ kv_cache_usage_ratio: 0.125, requests_waiting: 4, requests_running: 7 });
  });

  it('TGI: reads tgi_ series from the router port', async () => {
    const fake = track(await startTgiFake({ metrics: { waiting: 5, running: 9 } }));
    const adapter = track(createTgiAdapter(init(fake.url)));
    expect(parseEngineMetrics((await metricsOf(adapter)) ?? '')).toEqual({ requests_waiting: 5, requests_running: 9 });
  });

  it('Triton: reads nv_ series from the separate metrics port given as metrics_url', async () => {
    const fake = track(await startTritonFake({ metrics: { kvCacheUsageRatio: 0.75, waiting: 2, running: 6 } }));
    const adapter = track(createTritonAdapter({ ...init(fake.url, { ctx_max: 4096, metrics_url: fake.metricsUrl }), model: fake.model }));
    expect(new URL(fake.metricsUrl).port).not.toBe(new URL(fake.url).port);
    expect(parseEngineMetrics((await metricsOf(adapter)) ?? '')).toEqual({ kv_cache_usage_ratio: 0.75, requests_waiting: 2, requests_running: 6 });
    expect(fake.seen.some((r) => r.path === '/metrics')).toBe(false);
  });

  it('an engine without the endpoint (404) resolves undefined', async () => {
    const fake = track(await startVllmFake({ metrics: false }));
    const adapter = track(createVllmAdapter(init(fake.url)));
    expect(await metricsOf(adapter)).toBeUndefined();
  });
});

describe('metricsText failures', () => {
  let answer: (res: import('node:http').ServerResponse) => void = (res) => res.end();
  async function stub(): Promise<string> {
    const server: Server = createServer((_req, res) => answer(res));
    server.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    cleanup.push(() => new Promise((r) => server.close(() => r())));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('a 500 is an ENGINE_ERROR that keeps the status, not undefined', async () => {
    answer = (res) => res.writeHead(500).end('boom');
    const adapter = track(createLlamacppAdapter(init(await stub())));
    const err = await adapter.metricsText?.(never()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe('ENGINE_ERROR');
    expect((err as EngineError).upstreamStatus).toBe(500);
  });

  it('a body over the size cap is refused', async () => {
    const line = `llamacpp:requests_processing 1\n`;
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = line.repeat(1024);
      let sent = 0;
      const pump = (): void => {
        while (sent < 5 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    };
    const adapter = track(createVllmAdapter(init(await stub())));
    await expect(adapter.metricsText?.(never())).rejects.toThrow(/exceed/);
  });

  it('connection refused is an EngineError', async () => {
    const url = await stub();
    await cleanup.pop()?.();
    const adapter = track(createTgiAdapter(init(url)));
    await expect(adapter.metricsText?.(never())).rejects.toBeInstanceOf(EngineError);
  });

  it('aborting the signal rejects with its reason', async () => {
    answer = () => undefined; // never answers
    const adapter = track(createLlamacppAdapter(init(await stub())));
    const controller = new AbortController();
    const pending = adapter.metricsText?.(controller.signal);
    const reason = new Error('scrape timeout');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });
});
