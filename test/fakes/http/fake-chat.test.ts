// The three engine fakes' chat routes over raw HTTP: the framing each engine really uses, the
// usage chunk only on request, the body recorded as received. Adapter behaviour against these
// routes is tested in src/adapters/<engine>/chat.test.ts.

import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLlamacppFake, type LlamacppFake } from '../llamacpp/fake.ts';
import { startTgiFake, type TgiFake } from '../tgi/fake.ts';
import { startVllmFake, type VllmFake } from '../vllm/fake.ts';
import { fakeChatPrompt, planFakeChat } from './fake-chat.ts';

async function post(url: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await request(`${url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: res.statusCode, text: await res.body.text() };
}

/** `data:` payloads in order (with or without the optional space, as axum omits it). */
const dataLines = (wire: string): string[] => wire.split('\n\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart());
const chunks = (wire: string): Array<Record<string, unknown>> => dataLines(wire).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d) as Record<string, unknown>);

const messages = [{ role: 'user', content: 'Wie ist das Wetter in Zürich? get_weather 🙂' }];
const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
const body = (over: Record<string, unknown> = {}) => ({ model: 'fake-model', messages, max_tokens: 5, seed: 3, stream: true, stream_options: { include_usage: true }, ...over });

describe('engine fakes, chat routes', () => {
  let llamacpp: LlamacppFake;
  let vllm: VllmFake;
  let tgi: TgiFake;
  beforeAll(async () => {
    [llamacpp, vllm, tgi] = await Promise.all([startLlamacppFake(), startVllmFake(), startTgiFake()]);
  });
  afterAll(async () => {
    await Promise.all([llamacpp.close(), vllm.close(), tgi.close()]);
  });

  const engines = () => [
    { name: 'llama.cpp', fake: llamacpp },
    { name: 'vLLM', fake: vllm },
    { name: 'TGI', fake: tgi },
  ];

  it('send the usage chunk (choices: []) only when include_usage is asked, then [DONE]', async () => {
    for (const { name, fake } of engines()) {
      const withUsage = await post(fake.url, body());
      expect(withUsage.status, name).toBe(200);
      expect(dataLines(withUsage.text).at(-1), name).toBe('[DONE]');
      expect(chunks(withUsage.text).at(-1), name).toMatchObject({ choices: [], usage: { completion_tokens: 5, prompt_tokens: expect.any(Number) } });
      const without = await post(fake.url, body({ stream_options: undefined }));
      expect(dataLines(without.text).at(-1), name).toBe('[DONE]');
      expect(chunks(without.text).some((c) => Array.isArray(c['choices']) && c['choices'].length === 0), name).toBe(false);
    }
  });

  it('answer the same text for the same messages and seed on every engine, from the shared chat model', async () => {
    const expected = planFakeChat({ body: body(), seed: 3, maxTokens: 5, eosAfterTokens: undefined, toolCallId: () => '' }).steps.map((s) => (s.kind === 'text' ? s.piece : '')).join('');
    for (const { name, fake } of engines()) {
      const text = chunks((await post(fake.url, body())).text)
        .flatMap((c) => (Array.isArray(c['choices']) ? c['choices'] : []) as Array<{ delta?: { content?: string | null } }>)
        .map((c) => c.delta?.content ?? '')
        .join('');
      expect(text, name).toBe(expected);
    }
    expect(fakeChatPrompt(messages)).toBe('user: Wie ist das Wetter in Zürich? get_weather 🙂');
  });

  it('record the request body as received', async () => {
    for (const { name, fake } of engines()) {
      await post(fake.url, body({ tools, tool_choice: 'required' }));
      expect(fake.seen.at(-1)?.body, name).toMatchObject({ tools, tool_choice: 'required', stream_options: { include_usage: true } });
    }
  });

  it('stream tool calls in each engine shape: llama.cpp id+name+arguments, vLLM name first, TGI numeric ids with the finish on the last delta', async () => {
    const calls = async (fake: { url: string }) =>
      chunks((await post(fake.url, body({ tools, max_tokens: 50 }))).text).flatMap((c) =>
        ((Array.isArray(c['choices']) ? c['choices'] : []) as Array<{ delta?: { tool_calls?: unknown[] | null }; finish_reason?: string | null }>),
      );
    const lc = await calls(llamacpp);
    expect(lc[1]?.delta?.tool_calls?.[0]).toMatchObject({ index: 0, id: expect.any(String), type: 'function', function: { name: 'get_weather', arguments: expect.any(String) } });
    expect(lc.at(-1)).toMatchObject({ delta: {}, finish_reason: 'tool_calls' });
    const vl = await calls(vllm);
    expect(vl[1]?.delta?.tool_calls?.[0]).toEqual({ id: expect.stringMatching(/^chatcmpl-tool-/), type: 'function', index: 0, function: { name: 'get_weather' } });
    expect(vl.at(-1)).toMatchObject({ finish_reason: 'tool_calls' });
    const tg = await calls(tgi);
    expect(tg[0]?.delta?.tool_calls?.[0]).toMatchObject({ index: 0, id: '0', function: { name: 'get_weather' } });
    expect(tg[1]?.delta?.tool_calls?.[0]).toMatchObject({ function: { name: null } });
    expect(tg.at(-1)).toMatchObject({ finish_reason: 'tool_calls' });
  });

  it('refuse what the engine refuses: llama.cpp tools without --jinja (500), vLLM auto tool choice without its flag (400), TGI tools with a response format (422)', async () => {
    llamacpp.configure({ jinja: false });
    vllm.configure({ autoToolChoice: false });
    try {
      expect(await post(llamacpp.url, body({ tools }))).toMatchObject({ status: 500, text: expect.stringContaining('--jinja') });
      expect(await post(vllm.url, body({ tools }))).toMatchObject({ status: 400, text: expect.stringContaining('--enable-auto-tool-choice') });
      expect(await post(tgi.url, body({ tools, response_format: { type: 'json_object', value: {} } }))).toMatchObject({ status: 422, text: expect.stringContaining('tool_error') });
    } finally {
      llamacpp.configure({ jinja: true });
      vllm.configure({ autoToolChoice: true });
    }
  });

  it('report in-band errors in each engine shape: llama.cpp without [DONE], vLLM and TGI followed by [DONE]', async () => {
    await Promise.all(engines().map(({ fake }) => fake.setMode({ kind: 'fail-at-token', at: 1 })));
    try {
      const lc = dataLines((await post(llamacpp.url, body())).text);
      expect(JSON.parse(lc.at(-1) ?? '{}')).toMatchObject({ error: { code: 500, type: 'server_error' } });
      const vl = dataLines((await post(vllm.url, body())).text);
      expect(vl.at(-1)).toBe('[DONE]');
      expect(JSON.parse(vl.at(-2) ?? '{}')).toMatchObject({ error: { type: 'InternalServerError', code: 500 } });
      const tg = dataLines((await post(tgi.url, body())).text);
      expect(tg.at(-1)).toBe('[DONE]');
      expect(JSON.parse(tg.at(-2) ?? '{}')).toEqual({ error: { message: 'fake engine failure mid-stream', http_status_code: 422 } });
    } finally {
      await Promise.all(engines().map(({ fake }) => fake.setMode('ready')));
    }
  });

  it('report overload as each engine does: llama.cpp 503, vLLM 429 with Retry-After, TGI in-band under 200', async () => {
    await Promise.all(engines().map(({ fake }) => fake.setMode('overloaded')));
    try {
      expect((await post(llamacpp.url, body())).status).toBe(503);
      expect((await post(vllm.url, body())).status).toBe(429);
      const tg = await post(tgi.url, body());
      expect(tg.status).toBe(200);
      expect(JSON.parse(dataLines(tg.text)[0] ?? '{}')).toEqual({ error: { message: 'Model is overloaded', http_status_code: 422 } });
    } finally {
      await Promise.all(engines().map(({ fake }) => fake.setMode('ready')));
    }
  });
});
