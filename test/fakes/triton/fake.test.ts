import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startTritonFake, tritonFakeTokens, type TritonFake } from './fake.ts';

let fake: TritonFake | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function call(url: string, method: 'GET' | 'POST', body?: unknown, headersTimeout?: number) {
  const res = await request(url, { method, body: body === undefined ? null : JSON.stringify(body), headersTimeout });
  const type = res.headers['content-type'];
  return { status: res.statusCode, type: Array.isArray(type) ? type[0] : type, text: await res.body.text() };
}

const events = (text: string): unknown[] => text.split('\n\n').filter((b) => b.startsWith('data: ')).map((b) => JSON.parse(b.slice('data: '.length)));

describe('fake Triton server (wire level)', () => {
  it('streams one JSON object per response keyed by output tensors, with no terminator', async () => {
    fake = await startTritonFake();
    const res = await call(`${fake.url}/v2/models/ensemble/generate_stream`, 'POST', { id: 'r1', text_input: 'hi', max_tokens: 2, stream: true, seed: 3 });
    expect([res.status, res.type]).toEqual([200, 'text/event-stream; charset=utf-8']);
    const pieces = tritonFakeTokens('hi', 3, 2);
    expect(events(res.text)).toEqual(pieces.map((p) => expect.objectContaining({ id: 'r1', text_output: p, model_name: 'ensemble', cum_log_probs: expect.any(Number) })));
    expect(res.text.endsWith('}\n\n')).toBe(true);
  });

  it('answers errors before inference as JSON with a real status', async () => {
    fake = await startTritonFake();
    const bad = await call(`${fake.url}/v2/models/ensemble/generate_stream`, 'POST', { text_input: 'hi', max_tokens: 2, prompt: 'x' });
    expect([bad.status, bad.type, JSON.parse(bad.text)]).toEqual([400, 'application/json; charset=utf-8', { error: "unexpected inference input 'prompt' for model 'ensemble'" }]);
    await fake.setMode('overloaded');
    expect((await call(`${fake.url}/v2/models/ensemble/generate_stream`, 'POST', { text_input: 'hi', max_tokens: 2 })).status).toBe(503);
    expect((await call(`${fake.url}/v2/models/nope`, 'GET')).status).toBe(404);
  });

  it('answers readiness 400 with an empty body while not ready, and stays live', async () => {
    fake = await startTritonFake({ mode: 'unready' });
    expect(await call(`${fake.url}/v2/health/ready`, 'GET')).toMatchObject({ status: 400, text: '' });
    expect((await call(`${fake.url}/v2/health/live`, 'GET')).status).toBe(200);
  });

  it('sends no status line before the first response', async () => {
    fake = await startTritonFake({ mode: { kind: 'hang-at-token', at: 0 } });
    await expect(call(`${fake.url}/v2/models/ensemble/generate_stream`, 'POST', { text_input: 'hi', max_tokens: 2 }, 100))
      .rejects.toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' });
  });

  it('sends the whole text once when streaming is off', async () => {
    fake = await startTritonFake({ profile: 'llmapi' });
    const res = await call(`${fake.url}/v2/models/tensorrt_llm/generate_stream`, 'POST', { text_input: 'hi', sampling_param_max_tokens: 3 });
    expect(events(res.text)).toEqual([expect.objectContaining({ text_output: tritonFakeTokens('hi', 0, 3).join('') })]);
  });
});
