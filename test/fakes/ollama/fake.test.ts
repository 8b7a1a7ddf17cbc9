import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOllamaFake, type OllamaFake } from './fake.ts';

const send = async (fake: OllamaFake, method: 'GET' | 'HEAD' | 'POST', path: string, body?: unknown) => {
  const res = await request(`${fake.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.statusCode, type: String(res.headers['content-type']), text: await res.body.text() };
};
const chat = (over: Record<string, unknown> = {}) => ({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }], options: { num_predict: 3 }, ...over });

describe('Ollama fake', () => {
  let fake: OllamaFake;
  beforeAll(async () => {
    fake = await startOllamaFake();
  });
  afterAll(() => fake.close());

  it('answers GET and HEAD / like Ollama, and lists its models', async () => {
    expect(await send(fake, 'GET', '/')).toMatchObject({ status: 200, text: 'Ollama is running' });
    expect(await send(fake, 'HEAD', '/')).toMatchObject({ status: 200, text: '' });
    expect(JSON.parse((await send(fake, 'GET', '/api/tags')).text)).toMatchObject({ models: [{ name: 'fake-model:latest', details: { format: 'gguf' } }] });
  });

  it('streams NDJSON by default, one object with stream false, and a 404 body for an unpulled model', async () => {
    const streamed = await send(fake, 'POST', '/api/chat', chat());
    expect(streamed.type).toBe('application/x-ndjson');
    const lines = streamed.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(4);
    expect(lines.at(-1)).toMatchObject({ done: true, done_reason: 'length', eval_count: 3, prompt_eval_count: expect.any(Number) });
    const single = JSON.parse((await send(fake, 'POST', '/api/chat', chat({ stream: false }))).text) as Record<string, unknown>;
    expect(single).toMatchObject({ done: true, message: { role: 'assistant' } });
    expect(single['prompt_eval_count']).toBeUndefined();
    expect(await send(fake, 'POST', '/api/chat', chat({ model: 'nope' }))).toMatchObject({ status: 404, text: '{"error":"model \\"nope\\" not found, try pulling it first"}' });
  });
});
