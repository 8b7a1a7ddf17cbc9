// Issue 13 item 4: a provider key never leaves the adapter. A key is planted, the fakes are told
// to quote it back in their error bodies (the real APIs mask it), and everything the adapters
// produced — stream errors with their causes, health details, props, construction failures —
// is serialized and searched for it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drain, quickInit } from '../../test/support/adapter-test-kit.ts';
import { startAnthropicFake, type AnthropicFake } from '../../test/fakes/anthropic/fake.ts';
import { startOpenAiFake, type OpenAiFake } from '../../test/fakes/openai/fake.ts';
import { createAnthropicAdapter } from './anthropic/adapter.ts';
import type { CanonicalRequest, WorkerAdapter } from './contract.ts';
import { createOpenAiAdapter } from './openai/adapter.ts';

const PLANTED = 'sk-PLANTED-do-not-leak-7f3a9c';
const KEY_ENV = 'ORCHQUEUE_TEST_PLANTED_KEY';
const never = new AbortController().signal;
const req: CanonicalRequest = { taskId: 't1', model: 'fake-model', prompt: 'hi', maxTokens: 3 };

/** Everything reachable from a value: own properties, messages, causes, stacks. */
function dump(value: unknown, seen = new Set<unknown>()): string {
  if (typeof value !== 'object' || value === null) return String(value);
  if (seen.has(value)) return '';
  seen.add(value);
  const parts: string[] = [];
  if (value instanceof Error) parts.push(value.message, value.stack ?? '', dump(value.cause, seen));
  for (const key of Object.getOwnPropertyNames(value)) parts.push(key, dump((value as Record<string, unknown>)[key], seen));
  return parts.join('\n');
}

describe('planted provider keys', () => {
  let openai: OpenAiFake;
  let anthropic: AnthropicFake;
  const adapters: WorkerAdapter[] = [];

  beforeAll(async () => {
    // The fakes expect another key, so every call is refused — and they echo what they got.
    openai = await startOpenAiFake({ apiKey: 'sk-the-right-one', echoKeyInErrors: true });
    anthropic = await startAnthropicFake({ apiKey: 'sk-the-right-one', echoKeyInErrors: true });
    const options = { ...quickInit('').options, api_key: { env: KEY_ENV } };
    adapters.push(
      createOpenAiAdapter({ ...quickInit(openai.baseUrl), options, slots: 1 }),
      createAnthropicAdapter({ ...quickInit(anthropic.url), options, slots: 1 }),
    );
  });
  afterAll(async () => {
    for (const a of adapters) await a.close();
    await openai.close();
    await anthropic.close();
    delete process.env[KEY_ENV];
  });

  it('the fakes really quote the planted key, so the search below can find it', async () => {
    process.env[KEY_ENV] = PLANTED;
    await drain(adapters[0]?.stream(req, never) ?? (async function* () {})());
    const res = await fetch(`${openai.baseUrl}/models`, { headers: { authorization: `Bearer ${PLANTED}` } });
    expect(await res.text()).toContain(PLANTED);
  });

  it('appears in no error, cause, health detail or props of either adapter', async () => {
    process.env[KEY_ENV] = PLANTED;
    const produced: unknown[] = [];
    for (const adapter of adapters) {
      produced.push((await drain(adapter.stream(req, never))).error);
      produced.push((await drain(adapter.stream({ ...req, chat: { messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }] }], tools: [], toolChoice: { type: 'auto' }, responseFormat: { type: 'text' } } }, never))).error);
      produced.push(await adapter.health(never));
      produced.push(await adapter.props(never));
      produced.push(adapter.rateLimit?.());
    }
    delete process.env[KEY_ENV];
    for (const adapter of adapters) {
      produced.push(await adapter.health(never));
      produced.push((await drain(adapter.stream(req, never))).error);
    }
    const text = produced.map((p) => dump(p)).join('\n');
    expect(text).toContain('ENGINE_ERROR');
    expect(text).toContain('[redacted]');
    expect(text).not.toContain(PLANTED);
  });

  it('scrubs the key a call was made with even when the key was rotated before its error came back', async () => {
    const rotated = 'sk-ROTATED-also-secret-51be02';
    for (const adapter of adapters) {
      process.env[KEY_ENV] = PLANTED;
      const call = drain(adapter.stream(req, never)); // reads PLANTED now; its refusal arrives later
      process.env[KEY_ENV] = rotated;
      const health = await adapter.health(never); // sends the rotated key before the call's error is mapped
      const text = dump((await call).error) + dump(health);
      expect(text).toContain('[redacted]');
      expect(text).not.toContain(PLANTED);
      expect(text).not.toContain(rotated);
    }
    delete process.env[KEY_ENV];
  });

  it('an inline key in options fails construction without quoting it', () => {
    let message = '';
    try {
      createOpenAiAdapter({ ...quickInit(openai.baseUrl), options: { api_key: PLANTED }, slots: 1 });
    } catch (err) {
      message = dump(err);
    }
    expect(message).toMatch(/invalid openai replica options at \/api_key/);
    expect(message).not.toContain(PLANTED);
  });
});
