// The gateway in front of the Gemini and Ollama fakes through the public HTTP API (issue 13):
// a completion streams through each; a Gemini pool whose key is not set is not ready with the
// reason in /v1/pools; a planted key never appears in logs, pool answers, readiness, metrics or
// task answers, even when the provider refuses it.

import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeCompletion } from '../fakes/http/fake-tokens.ts';
import { startGeminiFake, type GeminiFake } from '../fakes/gemini/fake.ts';
import { startOllamaFake, type OllamaFake } from '../fakes/ollama/fake.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { openStream, terminal, tokens } from '../support/sse-client.ts';
import { waitFor } from './engines-support.ts';

let gw: TestGateway | undefined;
const fakes: Array<GeminiFake | OllamaFake> = [];
const envNames: string[] = [];
afterEach(async () => {
  await gw?.close();
  gw = undefined;
  await Promise.all(fakes.splice(0).map((f) => f.close()));
  for (const name of envNames.splice(0)) delete process.env[name];
});

/** A variable name no other test uses; removed after each test. */
function freshEnv(value?: string): string {
  const name = `ORCHQ_TEST_KEY_${randomBytes(6).toString('hex').toUpperCase()}`;
  envNames.push(name);
  if (value !== undefined) process.env[name] = value;
  return name;
}

const health = { interval_ms: 50, max_backoff_ms: 200, breaker_failures: 3, breaker_open_ms: 500 };
// No seed: neither pool declares itself deterministic, and the gateway refuses a seed it cannot honour.
const body = { model: 'm', prompt: 'tell me a story', max_tokens: 6 };
const poolReady = async (g: TestGateway, id: string) => ((await g.get(`/v1/pools/${id}`)).body as { ready?: boolean }).ready === true;

describe('hosted and local providers behind the gateway', () => {
  it('streams a completion from Gemini with its key from the environment', async () => {
    const key = `AIza-${randomBytes(8).toString('hex')}`;
    const fake = await startGeminiFake({ apiKey: key, model: 'fake-model' });
    fakes.push(fake);
    const pool = { id: 'g', engine: 'gemini', model: 'm', engine_model: 'fake-model', health, replicas: [{ id: 'r0', url: fake.url, options: { api_key: { env: freshEnv(key) }, retry_attempts: 1 } }] };
    gw = await startGateway(testConfig({ pools: [pool] }));
    await waitFor(() => poolReady(gw as TestGateway, 'g'), 5_000, 'gemini pool ready');
    const stream = await openStream(`${gw.url}/v1/tasks`, { method: 'POST', body });
    expect(tokens(stream.events)).toEqual(fakeCompletion('tell me a story', 0, 6));
    expect(terminal(stream.events)).toEqual([expect.objectContaining({ event: 'end', data: expect.objectContaining({ finish_reason: 'length', tokens_out: 6 }) })]);
    expect(fake.seen.find((s) => s.path.includes(':streamGenerateContent'))?.headers['x-goog-api-key']).toBe(key);
  });

  it('streams a completion from Ollama, loading the model on the first request', async () => {
    const fake = await startOllamaFake({ loadDelayMs: 20 });
    fakes.push(fake);
    const pool = { id: 'o', engine: 'ollama', model: 'm', engine_model: 'fake-model', health, replicas: [{ id: 'r0', url: fake.url, options: { retry_attempts: 1 } }] };
    gw = await startGateway(testConfig({ pools: [pool] }));
    await waitFor(() => poolReady(gw as TestGateway, 'o'), 5_000, 'ollama pool ready');
    const stream = await openStream(`${gw.url}/v1/tasks`, { method: 'POST', body });
    expect(tokens(stream.events)).toEqual(fakeCompletion('tell me a story', 0, 6));
    expect(terminal(stream.events)).toEqual([expect.objectContaining({ event: 'end', data: expect.objectContaining({ finish_reason: 'length', tokens_out: 6 }) })]);
    expect(fake.loaded.has('fake-model:latest')).toBe(true);
  });

  it('keeps a Gemini pool without its key unready, naming the variable, and never shows a planted key anywhere', async () => {
    const PLANTED = `AIza-PLANTED-${randomBytes(8).toString('hex')}`;
    const fake = await startGeminiFake({ apiKey: 'the-right-key', model: 'fake-model', echoKeyInErrors: true });
    fakes.push(fake);
    const unset = freshEnv();
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
    const pools = [
      { id: 'nokey', engine: 'gemini', model: 'm1', engine_model: 'fake-model', health, replicas: [{ id: 'r0', url: fake.url, options: { api_key: { env: unset }, retry_attempts: 1 } }] },
      { id: 'wrongkey', engine: 'gemini', model: 'm2', engine_model: 'fake-model', health, replicas: [{ id: 'r0', url: fake.url, options: { api_key: { env: freshEnv(PLANTED) }, retry_attempts: 1 } }] },
    ];
    gw = await startGateway(testConfig({ pools, telemetry: { log_level: 'trace' } }), { logger });
    const g = gw;
    await waitFor(async () => fake.seen.filter((s) => s.headers['x-goog-api-key'] === PLANTED).length >= 2, 5_000, 'the planted key reached the provider');
    await waitFor(async () => ((await g.get('/v1/pools/nokey')).body as { last_error?: string }).last_error !== undefined, 5_000, 'a reason for the unready pool');
    const noKey = (await g.get('/v1/pools/nokey')).body as { ready: boolean; last_error: string };
    expect(noKey.ready).toBe(false);
    expect(noKey.last_error).toContain(`environment variable ${unset} is not set`);
    const wrong = (await g.get('/v1/pools/wrongkey')).body as { ready: boolean; last_error?: string };
    expect(wrong.ready).toBe(false);
    expect(wrong.last_error).toContain('refused the API key');
    const answers = [
      (await g.get('/v1/pools')).text,
      (await g.get('/v1/pools/wrongkey')).text,
      (await g.get('/readyz')).text,
      (await g.get('/metrics')).text,
      (await g.post('/v1/tasks', { ...body, model: 'm2' })).text,
      (await g.post('/v1/tasks', { ...body, model: 'm1' })).text,
    ];
    expect(answers.join('\n')).toContain('wrongkey');
    expect(lines.some((l) => l.includes('refused the API key'))).toBe(true);
    for (const text of [...answers, ...lines]) expect(text).not.toContain(PLANTED);
  });
});
