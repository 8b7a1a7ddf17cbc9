import { once } from 'node:events';
import { connect } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeCompletion, startVllmFake, type VllmFake } from './fake.ts';

async function post(url: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await request(`${url}/v1/completions`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: res.statusCode, text: await res.body.text() };
}

async function tcpRefused(url: string): Promise<boolean> {
  const { port } = new URL(url);
  const socket = connect({ host: '127.0.0.1', port: Number(port) });
  try {
    await once(socket, 'connect');
    return false;
  } catch (err) {
    return (err as { code?: string }).code === 'ECONNREFUSED';
  } finally {
    socket.destroy();
  }
}

const body = (over: Record<string, unknown> = {}) => ({
  model: 'fake-model',
  prompt: 'Déterminisme 🙂',
  max_tokens: 20,
  stream: true,
  stream_options: { include_usage: true },
  seed: 7,
  ...over,
});

const dataLines = (wire: string) => wire.split('\n\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));

describe('vLLM fake engine', () => {
  let a: VllmFake;
  let b: VllmFake;
  beforeAll(async () => {
    [a, b] = await Promise.all([startVllmFake(), startVllmFake()]);
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  it('gives identical text on two replicas for one seed, and another seed changes it', async () => {
    const textOf = (wire: string) =>
      dataLines(wire)
        .filter((d) => d !== '[DONE]')
        .map((d) => JSON.parse(d) as { choices: Array<{ text: string }> })
        .map((c) => c.choices[0]?.text ?? '')
        .join('');
    const [onA, onB, other] = await Promise.all([post(a.url, body()), post(b.url, body()), post(a.url, body({ seed: 8 }))]);
    expect(textOf(onA.text)).toBe(textOf(onB.text));
    expect(textOf(onA.text)).toBe(fakeCompletion('Déterminisme 🙂', 7, 20).join(''));
    expect(textOf(other.text)).not.toBe(textOf(onA.text));
  });

  it('ends with a usage chunk (choices: []) and [DONE] only when include_usage is asked', async () => {
    const withUsage = dataLines((await post(a.url, body())).text);
    expect(withUsage.at(-1)).toBe('[DONE]');
    expect(JSON.parse(withUsage.at(-2) ?? '{}')).toMatchObject({ choices: [], usage: { completion_tokens: 20 } });
    const without = dataLines((await post(a.url, body({ stream_options: undefined }))).text);
    expect(without.at(-1)).toBe('[DONE]');
    expect(JSON.parse(without.at(-2) ?? '{}')).toMatchObject({ choices: [{ finish_reason: 'length' }] });
  });

  it('names the stop string that matched in the finish chunk stop_reason, and null at max_tokens', async () => {
    const stop = fakeCompletion('Déterminisme 🙂', 7, 20)[5] ?? '';
    const finishOf = (wire: string) =>
      dataLines(wire)
        .filter((d) => d !== '[DONE]')
        .map((d) => (JSON.parse(d) as { choices: Array<{ finish_reason: string | null; stop_reason?: unknown }> }).choices[0])
        .find((c) => c?.finish_reason !== null && c?.finish_reason !== undefined);
    expect(finishOf((await post(a.url, body({ stop: ['never appears', stop] }))).text)).toMatchObject({ finish_reason: 'stop', stop_reason: stop });
    expect(finishOf((await post(a.url, body())).text)).toMatchObject({ finish_reason: 'length', stop_reason: null });
  });

  it('sends [DONE] after an in-band error, in the configured error shape', async () => {
    await a.setMode({ kind: 'fail-at-token', at: 1 });
    a.configure({ errorStyle: 'flat' });
    const lines = dataLines((await post(a.url, body())).text);
    expect(lines.at(-1)).toBe('[DONE]');
    expect(JSON.parse(lines.at(-2) ?? '{}')).toMatchObject({ object: 'error', type: 'InternalServerError', code: 500 });
    a.configure({ errorStyle: 'nested' });
    await a.setMode('ready');
  });

  it('answers health 200 with an empty body, /version and /v1/models with max_model_len', async () => {
    const health = await request(`${a.url}/health`);
    expect(health.statusCode).toBe(200);
    expect(await health.body.text()).toBe('');
    expect(await (await request(`${a.url}/version`)).body.json()).toEqual({ version: '0.11.0' });
    expect(await (await request(`${a.url}/v1/models`)).body.json()).toMatchObject({ data: [{ id: 'fake-model', max_model_len: 4096 }] });
  });

  it('validates like vLLM: unknown model 404, stream_options without stream 400, context overflow 400', async () => {
    expect(await post(a.url, body({ model: 'nope' }))).toMatchObject({ status: 404, text: expect.stringContaining('NotFoundError') });
    expect(await post(a.url, body({ stream: false }))).toMatchObject({ status: 400, text: expect.stringContaining('stream=True') });
    expect(await post(a.url, body({ max_tokens: 5000 }))).toMatchObject({ status: 400, text: expect.stringContaining('maximum context length') });
  });

  it('really refuses TCP while loading and listens on the same port afterwards', async () => {
    const fake = await startVllmFake({ mode: 'loading' });
    try {
      expect(await tcpRefused(fake.url)).toBe(true);
      await fake.setMode('ready');
      expect(await tcpRefused(fake.url)).toBe(false);
      expect((await post(fake.url, body())).status).toBe(200);
    } finally {
      await fake.close();
    }
  });
});
