// Pins the SSE framing of both dialects byte for byte (issue 11): complete transcripts of the
// real gateway on the deterministic mock engine (OpenAI chat and legacy completion chunks,
// `[DONE]`, the usage chunk; Anthropic's event sequence), for text, a named stop sequence, tool
// calls and an engine failing mid-stream, compared with a committed snapshot file. Only ids and `created` are
// masked. An intended framing change updates the snapshot
// (`vitest run -u test/integration/dialect-sse-snapshot.test.ts`) with the contract and docs.

import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockPool, startGateway, testConfig, type TestGateway } from '../support/gateway.ts';

const FRAMING_HEADERS = ['content-type', 'cache-control', 'x-accel-buffering', 'x-task-id'];
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const MASKS: Array<[RegExp, string]> = [
  [new RegExp(`chatcmpl-${UUID}`, 'g'), 'chatcmpl-<task>'],
  [new RegExp(`cmpl-${UUID}`, 'g'), 'cmpl-<task>'],
  [new RegExp(`call_${UUID}_`, 'g'), 'call_<task>_'],
  [/msg_[0-9a-f]{32}/g, 'msg_<task>'],
  [new RegExp(`^x-task-id: ${UUID}$`, 'gm'), 'x-task-id: <task>'],
  [/"created":\d+/g, '"created":<time>'],
  [/"request_id":"[^"]*"/g, '"request_id":"<correlation>"'],
];

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway(
    testConfig({
      server: { heartbeat_ms: 60_000 },
      pools: [
        mockPool({ replicas: [{ id: 'mock-0', slots: 1 }] }),
        mockPool({ id: 'faulty', model: 'faulty', replicas: [{ id: 'faulty-0', slots: 1 }] }, { fail_at_token: 2 }),
      ],
    }),
  );
});
afterAll(async () => gw?.close());

/** One streamed response as it went over the wire: status, framing headers, the raw body. */
async function transcript(path: string, body: unknown): Promise<string> {
  const res = await request(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.body.text();
  const headers = FRAMING_HEADERS.map((name) => `${name}: ${String(res.headers[name] ?? '(absent)')}`);
  return MASKS.reduce((out, [pattern, mask]) => out.replace(pattern, mask), [`HTTP ${res.statusCode}`, ...headers, '', text].join('\n'));
}

const weatherTool = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
const anthropicWeather = { name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } };
const hello = [{ role: 'user', content: 'Write a haiku about queues.' }];
const askWeather = [{ role: 'user', content: 'Use get_weather for Paris.' }];

describe('dialect SSE transcripts (framing snapshot)', () => {
  // ORCH-1100 ORCH-1106 ORCH-1108: chunk shapes, the usage chunk, [DONE], Anthropic's event
  // sequence with cumulative usage, tool-call deltas, and the error frame that ends a failed stream.
  it('ORCH-1100 ORCH-1106 ORCH-1108 keep their framing: text, usage, tool calls and mid-stream errors in both dialects', async () => {
    const sections: Array<[string, string]> = [];
    const chat = { model: 'demo', max_tokens: 5, seed: 42, stream: true };
    sections.push(['OpenAI chat, text, include_usage', await transcript('/v1/chat/completions', { ...chat, messages: hello, stream_options: { include_usage: true } })]);
    sections.push(['OpenAI chat, text, no usage', await transcript('/v1/chat/completions', { ...chat, messages: hello })]);
    sections.push(['OpenAI chat, tool call', await transcript('/v1/chat/completions', { ...chat, max_tokens: 32, messages: askWeather, tools: [weatherTool] })]);
    sections.push(['OpenAI chat, engine failing at token 2', await transcript('/v1/chat/completions', { ...chat, model: 'faulty', messages: hello })]);
    const completion = { model: 'demo', prompt: 'Write a haiku about queues.', max_tokens: 4, seed: 42, stream: true };
    sections.push(['OpenAI legacy completion, include_usage', await transcript('/v1/completions', { ...completion, stream_options: { include_usage: true } })]);
    sections.push(['OpenAI legacy completion, engine failing at token 2', await transcript('/v1/completions', { ...completion, model: 'faulty' })]);
    const message = { model: 'demo', max_tokens: 5, stream: true };
    sections.push(['Anthropic messages, text with a system prompt', await transcript('/v1/messages', { ...message, system: 'Be brief.', messages: hello })]);
    // The same answer cut by a stop sequence the engine names: message_delta says which.
    sections.push(['Anthropic messages, ended by a stop sequence', await transcript('/v1/messages', { ...message, system: 'Be brief.', messages: hello, stop_sequences: ['léger'] })]);
    sections.push(['Anthropic messages, tool use', await transcript('/v1/messages', { ...message, max_tokens: 32, messages: askWeather, tools: [anthropicWeather] })]);
    sections.push(['Anthropic messages, engine failing at token 2', await transcript('/v1/messages', { ...message, model: 'faulty', messages: hello })]);

    const file = sections.map(([title, text]) => `=== ${title}\n${text}`).join('\n');
    await expect(file).toMatchFileSnapshot('__snapshots__/dialect-sse-transcripts.txt');
  });
});
