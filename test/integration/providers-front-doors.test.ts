// Issue 13 "done when" and issue 11's engine-level abort, through the real gateway with the
// official SDKs as clients: one configuration with a llama.cpp pool (its fake), an Anthropic
// pool, an OpenRouter pool, a Gemini pool and an Ollama pool (their fakes, keys from the
// environment) serves every one through /v1/chat/completions, /v1/messages and /v1/tasks; an
// SDK abort mid-stream reaches the engine.

import { randomBytes } from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnthropicFake, type AnthropicFake } from '../fakes/anthropic/fake.ts';
import { startGeminiFake, type GeminiFake } from '../fakes/gemini/fake.ts';
import { startOllamaFake, type OllamaFake } from '../fakes/ollama/fake.ts';
import { startLlamacppFake, type LlamacppFake } from '../fakes/llamacpp/fake.ts';
import { startOpenAiFake, type OpenAiFake } from '../fakes/openai/fake.ts';
import { clientTransport } from '../support/dialect-clients.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { openStream, terminal } from '../support/sse-client.ts';
import { waitFor } from './engines-support.ts';

const health = { interval_ms: 50, max_backoff_ms: 200, breaker_failures: 3, breaker_open_ms: 500 };
const MODELS = ['local', 'claude', 'router', 'gemini', 'ollama'] as const;

let gw: TestGateway;
let llama: LlamacppFake;
let anthropicFake: AnthropicFake;
let router: OpenAiFake;
let gemini: GeminiFake;
let ollama: OllamaFake;
let transport: ReturnType<typeof clientTransport>;
const env: string[] = [];

function envKey(value: string): string {
  const name = `ORCHQ_TEST_KEY_${randomBytes(6).toString('hex').toUpperCase()}`;
  process.env[name] = value;
  env.push(name);
  return name;
}

beforeAll(async () => {
  llama = await startLlamacppFake({ tokensPerS: 200, slots: 4 });
  const antKey = `sk-ant-${randomBytes(8).toString('hex')}`;
  anthropicFake = await startAnthropicFake({ apiKey: antKey, model: 'claude-test' });
  const routerKey = `sk-or-${randomBytes(8).toString('hex')}`;
  router = await startOpenAiFake({ flavour: 'openrouter', apiKey: routerKey, model: 'openai/gpt-test' });
  const geminiKey = `AIza-${randomBytes(8).toString('hex')}`;
  gemini = await startGeminiFake({ apiKey: geminiKey, model: 'gemini-test' });
  ollama = await startOllamaFake({ models: ['llama-test'] });
  const pools = [
    { id: 'local', engine: 'llamacpp', model: 'local', health, replicas: [{ id: 'l0', url: llama.url, options: { retry_attempts: 1 } }] },
    { id: 'claude', engine: 'anthropic', model: 'claude', engine_model: 'claude-test', health, replicas: [{ id: 'a0', url: anthropicFake.url, slots: 4, options: { api_key: { env: envKey(antKey) }, retry_attempts: 1 } }] },
    { id: 'gemini', engine: 'gemini', model: 'gemini', engine_model: 'gemini-test', health, replicas: [{ id: 'g0', url: gemini.url, options: { api_key: { env: envKey(geminiKey) }, retry_attempts: 1 } }] },
    { id: 'ollama', engine: 'ollama', model: 'ollama', engine_model: 'llama-test', health, replicas: [{ id: 'm0', url: ollama.url, options: { retry_attempts: 1 } }] },
    { id: 'router', engine: 'openai', model: 'router', engine_model: 'openai/gpt-test', health, replicas: [{ id: 'o0', url: `${router.url}/api/v1`, slots: 4, options: { api_key: { env: envKey(routerKey) }, retry_attempts: 1 } }] },
  ];
  gw = await startGateway(testConfig({ pools }));
  for (const id of MODELS) {
    await waitFor(async () => ((await gw.get(`/v1/pools/${id}`)).body as { ready?: boolean }).ready === true, 10_000, `pool ${id} ready`);
  }
  transport = clientTransport();
});

afterAll(async () => {
  await gw?.close();
  await transport?.close();
  await Promise.all([llama?.close(), anthropicFake?.close(), router?.close(), gemini?.close(), ollama?.close()]);
  for (const name of env.splice(0)) delete process.env[name];
});

const openai = () => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', fetch: transport.fetch, maxRetries: 0 });
const anthropic = () => new Anthropic({ baseURL: gw.url, apiKey: 'unused', fetch: transport.fetch, maxRetries: 0 });

async function tokensOut(taskId: string | null): Promise<number> {
  expect(taskId).toBeTruthy();
  const status = (await gw.get(`/v1/tasks/${taskId}`)).body as { tokens_out: number; state: string };
  expect(status.state).toBe('completed');
  return status.tokens_out;
}

describe('one gateway, five kinds of pool, three front doors', () => {
  // ORCH-1100
  it.each(MODELS)('serves %s through the OpenAI SDK, streaming and not', async (model) => {
    const { data, response } = await openai().chat.completions.create({ model, messages: [{ role: 'user', content: 'say something' }], max_tokens: 5 }).withResponse();
    expect(data.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(data.usage?.completion_tokens).toBe(await tokensOut(response.headers.get('x-task-id')));
    const stream = await openai().chat.completions.create({ model, messages: [{ role: 'user', content: 'say more' }], max_tokens: 4, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let completion: number | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) completion = chunk.usage.completion_tokens;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(completion).toBeGreaterThan(0);
  });

  // ORCH-1108
  it.each(MODELS)('serves %s through the Anthropic SDK', async (model) => {
    const { data, response } = await anthropic().messages.create({ model, max_tokens: 5, messages: [{ role: 'user', content: 'hello there' }] }).withResponse();
    const text = data.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');
    expect(text.length).toBeGreaterThan(0);
    expect(data.usage.output_tokens).toBe(await tokensOut(response.headers.get('x-task-id')));
  });

  it.each(MODELS)('serves %s through /v1/tasks', async (model) => {
    const stream = await openStream(`${gw.url}/v1/tasks`, { method: 'POST', body: { model, prompt: 'once upon a time', max_tokens: 4 } });
    expect(terminal(stream.events)).toEqual([expect.objectContaining({ event: 'end', data: expect.objectContaining({ tokens_out: expect.any(Number) }) })]);
  });

  // ORCH-1104
  it('an SDK abort mid-stream cancels the task and the llama.cpp fake sees its connection aborted', async () => {
    llama.configure({ tokensPerS: 20 });
    try {
      const controller = new AbortController();
      const before = llama.seen.length;
      const stream = await openai().chat.completions.create({ model: 'local', messages: [{ role: 'user', content: 'a long answer' }], max_tokens: 200, stream: true }, { signal: controller.signal });
      let got = 0;
      // The SDK's iterator ends (or throws its abort error) once the signal fires; either way
      // the HTTP response is gone, and the gateway must cancel the task and abort the engine.
      try {
        for await (const chunk of stream) {
          if ((chunk.choices[0]?.delta.content ?? '').length > 0 && ++got === 2) controller.abort();
        }
      } catch (err) {
        expect(controller.signal.aborted).toBe(true);
        void err;
      }
      expect(got).toBe(2);
      const call = llama.seen.slice(before).find((s) => s.path === '/v1/chat/completions');
      expect(call).toBeDefined();
      const index = llama.seen.indexOf(call as (typeof llama.seen)[number]);
      const settled = await llama.settled(index);
      expect(settled.aborted).toBe(true);
    } finally {
      llama.configure({ tokensPerS: 200 });
    }
  });
});
