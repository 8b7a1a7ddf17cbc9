import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGeminiFake, type GeminiFake } from './fake.ts';

const KEY = 'fake-key';
const ask = async (fake: GeminiFake, path: string, body?: unknown, headers: Record<string, string> = { 'x-goog-api-key': KEY }) => {
  const res = await request(`${fake.url}${path}`, { method: body === undefined ? 'GET' : 'POST', headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.statusCode, type: String(res.headers['content-type']), text: await res.body.text() };
};
const gen = { contents: [{ role: 'user', parts: [{ text: 'hi' }] }], generationConfig: { maxOutputTokens: 3, seed: 1 } };

describe('Gemini fake', () => {
  let fake: GeminiFake;
  beforeAll(async () => {
    fake = await startGeminiFake({ apiKey: KEY, model: 'm' });
  });
  afterAll(() => fake.close());

  it('answers 403 PERMISSION_DENIED without a key and 400 API_KEY_INVALID with a wrong one', async () => {
    expect(JSON.parse((await ask(fake, '/v1beta/models/m', undefined, {})).text)).toMatchObject({ error: { code: 403, status: 'PERMISSION_DENIED' } });
    const wrong = await ask(fake, '/v1beta/models/m', undefined, { 'x-goog-api-key': 'nope' });
    expect(wrong.status).toBe(400);
    expect(JSON.parse(wrong.text)).toMatchObject({ error: { status: 'INVALID_ARGUMENT', details: [{ reason: 'API_KEY_INVALID' }] } });
  });

  it('streams SSE with alt=sse, a JSON array without it, one object from generateContent', async () => {
    const sse = await ask(fake, '/v1beta/models/m:streamGenerateContent?alt=sse', gen);
    expect(sse.type).toBe('text/event-stream');
    expect(sse.text.split('\r\n\r\n').filter(Boolean)).toHaveLength(4);
    const array = await ask(fake, '/v1beta/models/m:streamGenerateContent', gen);
    const parsed = JSON.parse(array.text) as Array<{ candidates: Array<{ finishReason?: string }> }>;
    expect(parsed).toHaveLength(4);
    expect(parsed.at(-1)?.candidates[0]?.finishReason).toBe('MAX_TOKENS');
    const unary = JSON.parse((await ask(fake, '/v1beta/models/m:generateContent', gen)).text) as { usageMetadata: { promptTokenCount: number } };
    expect(unary.usageMetadata.promptTokenCount).toBeGreaterThan(0);
  });

  it('refuses empty contents and an unknown model with google.rpc bodies', async () => {
    expect((await ask(fake, '/v1beta/models/m:streamGenerateContent?alt=sse', { contents: [] })).status).toBe(400);
    expect(JSON.parse((await ask(fake, '/v1beta/models/x:generateContent', gen)).text)).toMatchObject({ error: { code: 404, status: 'NOT_FOUND' } });
  });
});
