import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeCompletion, fakeTokenize, startLlamacppFake, type LlamacppFake } from './fake.ts';

async function post(url: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await request(`${url}/completion`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: res.statusCode, text: await res.body.text() };
}

async function get(url: string, path: string): Promise<{ status: number; json: unknown }> {
  const res = await request(`${url}${path}`);
  return { status: res.statusCode, json: await res.body.json() };
}

const completion = (seed: number) => ({ prompt: 'Déterminisme 🙂', n_predict: 24, stream: true, seed });

describe('llama.cpp fake engine', () => {
  let a: LlamacppFake;
  let b: LlamacppFake;
  beforeAll(async () => {
    [a, b] = await Promise.all([startLlamacppFake(), startLlamacppFake()]);
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  it('gives byte-identical token streams on two replicas for one seed, and another seed changes them', async () => {
    const contents = (wire: string) => wire.split('\n\n').filter((l) => l.includes('"stop":false'));
    const [onA, onB, other] = await Promise.all([post(a.url, completion(7)), post(b.url, completion(7)), post(a.url, completion(8))]);
    expect(contents(onA.text).length).toBe(24);
    expect(contents(onA.text)).toEqual(contents(onB.text));
    expect(contents(other.text)).not.toEqual(contents(onA.text));
    expect(fakeCompletion('Déterminisme 🙂', 7, 24).join('')).toBe(
      contents(onA.text).map((l) => (JSON.parse(l.slice('data: '.length)) as { content: string }).content).join(''),
    );
  });

  it('speaks /completion without a [DONE] terminator and ends with a stop:true event', async () => {
    const { status, text } = await post(a.url, completion(1));
    expect(status).toBe(200);
    expect(text).not.toContain('[DONE]');
    const last = text.trim().split('\n\n').at(-1) ?? '';
    expect(JSON.parse(last.slice('data: '.length))).toMatchObject({ stop: true, stop_type: 'limit', tokens_predicted: 24 });
  });

  it('ends a stop string with stop_type word and the string in stopping_word, as llama-server does', async () => {
    const stop = fakeCompletion('Déterminisme 🙂', 7, 24)[5] ?? '';
    const { text } = await post(a.url, { ...completion(7), stop: ['never appears', stop] });
    const last = text.trim().split('\n\n').at(-1) ?? '';
    expect(JSON.parse(last.slice('data: '.length))).toMatchObject({ stop: true, stop_type: 'word', stopping_word: stop });
  });

  it('answers health with the 503 loading body while loading and every API route alike', async () => {
    await a.setMode('loading');
    const loadingBody = { error: { code: 503, message: 'Loading model', type: 'unavailable_error' } };
    expect(await get(a.url, '/health')).toEqual({ status: 503, json: loadingBody });
    expect(await get(a.url, '/props')).toEqual({ status: 503, json: loadingBody });
    await a.setMode('ready');
    expect(await get(a.url, '/health')).toEqual({ status: 200, json: { status: 'ok' } });
  });

  it('reports slots in /props and /slots and fails /slots?fail_on_no_slot=1 when all are busy', async () => {
    const fake = await startLlamacppFake({ slots: 1, tokensPerS: 50 });
    try {
      expect(await get(fake.url, '/props')).toMatchObject({ status: 200, json: { total_slots: 1 } });
      const running = request(`${fake.url}/completion`, { method: 'POST', body: JSON.stringify({ ...completion(1), n_predict: 100 }) });
      const res = await running;
      while (fake.busySlots() < 1) await new Promise((r) => setTimeout(r, 5));
      expect((await get(fake.url, '/slots?fail_on_no_slot=1')).status).toBe(503);
      expect(await get(fake.url, '/slots')).toMatchObject({ json: [{ id: 0, is_processing: true }] });
      expect((await post(fake.url, completion(2))).status).toBe(503);
      res.body.destroy();
      await fake.settled(1);
      expect((await get(fake.url, '/slots?fail_on_no_slot=1')).status).toBe(200);
    } finally {
      await fake.close();
    }
  });

  it('reuses the KV prefix of the pinned slot and reports it in timings.cache_n', async () => {
    const fake = await startLlamacppFake({ slots: 2 });
    try {
      const finalOf = (text: string) => JSON.parse(text.trim().split('\n\n').at(-1)?.slice(6) ?? '{}') as { timings: { cache_n: number }; tokens_cached: number };
      const prompt = 'System: be brief. User: hello there';
      const cold = finalOf((await post(fake.url, { prompt, n_predict: 4, stream: true, seed: 1, id_slot: 1 })).text);
      const warm = finalOf((await post(fake.url, { prompt: `${prompt} again`, n_predict: 4, stream: true, seed: 1, id_slot: 1 })).text);
      const otherSlot = finalOf((await post(fake.url, { prompt: `${prompt} again`, n_predict: 4, stream: true, seed: 1, id_slot: 0 })).text);
      const noCache = finalOf((await post(fake.url, { prompt: `${prompt} again`, n_predict: 4, stream: true, seed: 1, id_slot: 1, cache_prompt: false })).text);
      expect(cold.timings.cache_n).toBe(0);
      expect(warm.timings.cache_n).toBe(fakeTokenize(prompt).length);
      expect(warm.tokens_cached).toBeGreaterThan(0);
      expect(otherSlot.timings.cache_n).toBe(0);
      expect(noCache.timings.cache_n).toBe(0);
      expect(fake.seen[1]?.notes).toMatchObject({ slot: 1, idSlot: 1, cachePrompt: undefined });
    } finally {
      await fake.close();
    }
  });

  it('runs as an engine simulator process that prints its URL as one JSON line', async () => {
    const main = fileURLToPath(new URL('./fake-main.ts', import.meta.url));
    const child = spawn(process.execPath, [main, '--port', '0', '--tokens-per-s', '1000', '--slots', '3'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
      const { url } = JSON.parse(line) as { url: string };
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(await get(url, '/props')).toMatchObject({ json: { total_slots: 3 } });
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
});
