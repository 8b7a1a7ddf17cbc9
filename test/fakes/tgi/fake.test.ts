import { connect } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startTgiFake, tgiFakeTokens, type TgiFake } from './fake.ts';

let fake: TgiFake | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function post(url: string, body: unknown): Promise<{ status: number; type: string | undefined; text: string }> {
  const res = await request(`${url}/generate_stream`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const type = res.headers['content-type'];
  return { status: res.statusCode, type: Array.isArray(type) ? type[0] : type, text: await res.body.text() };
}

const events = (text: string): unknown[] => text.split('\n\n').filter((b) => b.startsWith('data:')).map((b) => JSON.parse(b.slice('data:'.length)));

describe('fake TGI router (wire level)', () => {
  it('streams data: events without a space, a final event with the last token, generated_text and details, and no [DONE]', async () => {
    fake = await startTgiFake();
    const { status, type, text } = await post(fake.url, { inputs: 'hi', parameters: { max_new_tokens: 3, details: true, seed: 5, do_sample: true, temperature: 0.5 } });
    expect([status, type]).toEqual([200, 'text/event-stream']);
    expect(text.startsWith('data:{')).toBe(true);
    expect(text).not.toContain('[DONE]');
    const pieces = tgiFakeTokens('hi', 5, 3);
    expect(events(text)).toEqual([
      { index: 1, token: { id: expect.any(Number), text: pieces[0], logprob: expect.any(Number), special: false }, generated_text: null, details: null },
      { index: 2, token: expect.objectContaining({ text: pieces[1] }), generated_text: null, details: null },
      {
        index: 3,
        token: expect.objectContaining({ text: pieces[2] }),
        generated_text: pieces.join(''),
        details: { finish_reason: 'length', generated_tokens: 3, seed: 5, input_length: expect.any(Number) },
      },
    ]);
  });

  it('reports overload in-band under HTTP 200', async () => {
    fake = await startTgiFake({ mode: 'overloaded' });
    const res = await post(fake.url, { inputs: 'hi', parameters: { max_new_tokens: 3 } });
    expect(res.status).toBe(200);
    expect(res.text).toBe('data:{"error":"Model is overloaded","error_type":"overloaded"}\n\n');
  });

  it('rejects an undeserializable body with a real 422, like axum', async () => {
    fake = await startTgiFake();
    expect((await post(fake.url, { parameters: {} })).status).toBe(422);
  });

  it('ends an EOS stop with the special token and leaves it out of generated_text', async () => {
    fake = await startTgiFake({ eosAfterTokens: 1 });
    const last = events((await post(fake.url, { inputs: 'hi', parameters: { max_new_tokens: 9, details: true } })).text).at(-1);
    expect(last).toMatchObject({ token: { text: '</s>', special: true }, generated_text: tgiFakeTokens('hi', 0, 1)[0], details: { finish_reason: 'eos_token' } });
  });

  it('really refuses TCP while loading and accepts on the same port once ready', async () => {
    fake = await startTgiFake({ mode: 'loading' });
    const port = Number(new URL(fake.url).port);
    const attempt = () => new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve('connected')));
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    expect(await attempt()).toBe('ECONNREFUSED');
    await fake.setMode('ready');
    expect(await attempt()).toBe('connected');
    expect(fake.url).toBe(`http://127.0.0.1:${port}`);
  });
});
