// Every normalizer rule and every capability refusal reachable through the dialect routes, one
// case per rule, sent by the official SDKs (their low-level `post`, so a bad body is not a type
// error): the refusal is the typed error in the dialect's envelope naming the field, and
// nothing was admitted (no task, queue and slots unchanged, no audit admission row, no enqueue
// metric, no request reached an engine). Rules the routes cannot reach with the engines that
// exist (every engine with a chat endpoint has vision and tools) stay covered at the unit level
// in src/core/chat/normalize.test.ts.

import { APIError as AnthropicApiError } from '@anthropic-ai/sdk';
import { APIError as OpenAiApiError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTritonFake, type TritonFake } from '../fakes/triton/fake.ts';
import { anthropicClient, clientTransport, factRecorder, metricValue, openAiClient } from '../support/dialect-clients.ts';
import { mockPool, startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { createTestDatabase, databaseUrl } from './audit-backends.ts';
import { enginePool, generations, kit } from './engines-support.ts';

const facts = factRecorder();
const transport = clientTransport();
const TRITON = kit('triton');
let gw: TestGateway;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let triton: TritonFake;

beforeAll(async () => {
  db = await createTestDatabase();
  triton = await startTritonFake();
  gw = await startGateway(
    testConfig({
      server: { max_tokens_limit: 4_096 },
      audit: { backend: 'postgres', database_url: databaseUrl(db.name) },
      pools: [mockPool({ replicas: [{ id: 'mock-0', slots: 2 }] }), enginePool(TRITON, [triton], { id: 'tensor', model: 'tensor' })],
    }),
    { observers: [facts.observer] },
  );
  // The triton pool must be ready, or its refusal would be POOL_UNREADY rather than "no chat".
  for (let i = 0; i < 200 && !((await gw.get('/v1/pools/tensor')).body as { ready?: boolean }).ready; i++) await new Promise((r) => setTimeout(r, 10));
});
afterAll(async () => {
  await transport.close();
  await gw?.close();
  await triton?.close();
  await db?.drop();
});

/** What an admission would change; equal before and after every refusal. */
async function visibleState() {
  const metrics = (await gw.get('/metrics')).text;
  const admissions = (await gw.get('/v1/audit?kind=admission&limit=1000')).body as { rows: unknown[] };
  return {
    tasks: gw.tasks.size,
    admittedFacts: facts.admitted.length,
    demo: (await gw.get('/v1/pools/demo')).body,
    tensor: (await gw.get('/v1/pools/tensor')).body,
    auditAdmissions: admissions.rows.length,
    enqueued: metricValue(metrics, 'orchqueue_tasks_enqueued_total', { pool: 'demo', priority: 'interactive' }) + metricValue(metrics, 'orchqueue_tasks_enqueued_total', { pool: 'tensor', priority: 'interactive' }),
    engineGenerations: generations(TRITON, triton).length,
  };
}

const user = (content: unknown = 'hi') => ({ role: 'user', content });
const png = 'data:image/png;base64,iVBORw0KGgo=';
const weatherTool = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
const call = (id: string, args = '{"city":"Paris"}') => ({ id, type: 'function', function: { name: 'get_weather', arguments: args } });
const chat = (over: Record<string, unknown>) => ({ model: 'demo', max_tokens: 4, messages: [user()], ...over });
const completion = (over: Record<string, unknown>) => ({ model: 'demo', max_tokens: 4, prompt: 'hi', ...over });

interface Case {
  rule: string;
  body: Record<string, unknown>;
  field: string;
}

// ORCH-1101: one case per normalizer rule reachable on the mock engine (src/core/chat/normalize.test.ts lists them all).
const OPENAI_CONVERSATION: Case[] = [
  { rule: 'empty conversation', body: chat({ messages: [] }), field: 'messages' },
  { rule: 'unknown role', body: chat({ messages: [user(), { role: 'robot', content: 'x' }] }), field: 'messages[1].role' },
  { rule: 'system message after the conversation began', body: chat({ messages: [user(), { role: 'system', content: 'be brief' }, user()] }), field: 'messages[1].role' },
  { rule: 'developer message after the conversation began', body: chat({ messages: [user(), { role: 'developer', content: 'be brief' }, user()] }), field: 'messages[1].role' },
  { rule: 'empty system content', body: chat({ messages: [{ role: 'system', content: '' }, user()] }), field: 'messages[0].content' },
  { rule: 'image in a system message', body: chat({ messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: png } }] }, user()] }), field: 'messages[0].content[0].type' },
  { rule: 'empty user content string', body: chat({ messages: [user('')] }), field: 'messages[0].content' },
  { rule: 'empty user content parts', body: chat({ messages: [user([])] }), field: 'messages[0].content' },
  { rule: 'null user content', body: chat({ messages: [user(null)] }), field: 'messages[0].content' },
  { rule: 'empty text part', body: chat({ messages: [user([{ type: 'text', text: '' }])] }), field: 'messages[0].content[0].text' },
  { rule: 'unsupported content part', body: chat({ messages: [user([{ type: 'input_audio' }])] }), field: 'messages[0].content[0].type' },
  { rule: 'image URL that is neither http(s) nor data', body: chat({ messages: [user([{ type: 'image_url', image_url: { url: 'file:///etc/passwd' } }])] }), field: 'messages[0].content[0].image_url.url' },
  { rule: 'data URL with a non-image media type', body: chat({ messages: [user([{ type: 'image_url', image_url: { url: 'data:text/plain;base64,aGk=' } }])] }), field: 'messages[0].content[0].image_url.url' },
  { rule: 'data URL that is not base64', body: chat({ messages: [user([{ type: 'image_url', image_url: { url: 'data:image/png;base64,@@@' } }])] }), field: 'messages[0].content[0].image_url.url' },
  { rule: 'no user message', body: chat({ messages: [{ role: 'system', content: 'be brief' }] }), field: 'messages' },
  { rule: 'conversation ends with an assistant message', body: chat({ messages: [user(), { role: 'assistant', content: 'Hello' }] }), field: 'messages[1].role' },
  { rule: 'assistant without content or tool calls', body: chat({ messages: [user(), { role: 'assistant', content: null }, user()] }), field: 'messages[1].content' },
  { rule: 'assistant with an empty tool_calls array', body: chat({ messages: [user(), { role: 'assistant', content: 'x', tool_calls: [] }, user()] }), field: 'messages[1].tool_calls' },
  { rule: 'tool call arguments that are not JSON', body: chat({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [call('c1', '{city:')] }, { role: 'tool', tool_call_id: 'c1', content: 'x' }] }), field: 'messages[1].tool_calls[0].function.arguments' },
  { rule: 'tool call arguments that are JSON but not an object', body: chat({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [call('c1', '[1]')] }, { role: 'tool', tool_call_id: 'c1', content: 'x' }] }), field: 'messages[1].tool_calls[0].function.arguments' },
  { rule: 'tool call with an invalid function name', body: chat({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [{ ...call('c1'), function: { name: 'get weather', arguments: '{}' } }] }, { role: 'tool', tool_call_id: 'c1', content: 'x' }] }), field: 'messages[1].tool_calls[0].function.name' },
  { rule: 'tool call with an empty id', body: chat({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [call('')] }] }), field: 'messages[1].tool_calls[0].id' },
  { rule: 'tool call of a type other than function', body: chat({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [{ ...call('c1'), type: 'custom' }] }] }), field: 'messages[1].tool_calls[0].type' },
  { rule: 'duplicate tool call id in one message', body: chat({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [call('c1'), call('c1')] }] }), field: 'messages[1].tool_calls[1].id' },
  { rule: 'duplicate tool call id across turns', body: chat({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [call('c1')] }, { role: 'tool', tool_call_id: 'c1', content: 'x' }, user(), { role: 'assistant', tool_calls: [call('c1')] }, { role: 'tool', tool_call_id: 'c1', content: 'x' }] }), field: 'messages[4].tool_calls[0].id' },
  { rule: 'tool message answering no earlier call', body: chat({ tools: [weatherTool], messages: [user(), { role: 'tool', tool_call_id: 'nope', content: 'x' }] }), field: 'messages[1].tool_call_id' },
  { rule: 'tool message answering a call twice', body: chat({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [call('c1')] }, { role: 'tool', tool_call_id: 'c1', content: 'x' }, { role: 'tool', tool_call_id: 'c1', content: 'y' }] }), field: 'messages[3].tool_call_id' },
  { rule: 'tool message without tool_call_id', body: chat({ tools: [weatherTool], messages: [user(), { role: 'tool', content: 'x' }] }), field: 'messages[1].tool_call_id' },
  { rule: 'tool message with an image part', body: chat({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [call('c1')] }, { role: 'tool', tool_call_id: 'c1', content: [{ type: 'image_url', image_url: { url: png } }] }] }), field: 'messages[2].content[0].type' },
  { rule: 'tool call left unanswered before the next user message', body: chat({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [call('c1'), call('c2')] }, { role: 'tool', tool_call_id: 'c1', content: 'x' }, user()] }), field: 'messages[1].tool_calls[1].id' },
  { rule: 'tool call left unanswered at the end', body: chat({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [call('c1')] }] }), field: 'messages[1].tool_calls[0].id' },
  { rule: 'tool of a type other than function', body: chat({ tools: [{ ...weatherTool, type: 'web_search' }] }), field: 'tools[0].type' },
  { rule: 'tool with an invalid name', body: chat({ tools: [{ type: 'function', function: { name: 'a.b' } }] }), field: 'tools[0].function.name' },
  { rule: 'tool defined twice', body: chat({ tools: [weatherTool, weatherTool] }), field: 'tools[1].function.name' },
  { rule: 'tool_choice naming an unknown tool', body: chat({ tools: [weatherTool], tool_choice: { type: 'function', function: { name: 'other' } } }), field: 'tool_choice.function.name' },
  { rule: 'tool_choice required without tools', body: chat({ tool_choice: 'required' }), field: 'tool_choice' },
];

// ORCH-1102: parameters the gateway or the mock engine cannot honour, refused naming the parameter.
const OPENAI_PARAMETERS: Case[] = [
  { rule: 'n: 2', body: chat({ n: 2 }), field: 'n' },
  { rule: 'logprobs: true on an engine without logprobs', body: chat({ logprobs: true }), field: 'logprobs' },
  { rule: 'top_logprobs on an engine without logprobs', body: chat({ top_logprobs: 2 }), field: 'top_logprobs' },
  { rule: 'a presence penalty', body: chat({ presence_penalty: 0.5 }), field: 'presence_penalty' },
  { rule: 'a frequency penalty', body: chat({ frequency_penalty: 0.5 }), field: 'frequency_penalty' },
  { rule: 'a non-empty logit_bias', body: chat({ logit_bias: { '50256': -100 } }), field: 'logit_bias' },
  { rule: 'deprecated functions', body: chat({ functions: [{ name: 'f' }] }), field: 'functions' },
  { rule: 'deprecated function_call', body: chat({ function_call: 'auto' }), field: 'function_call' },
  { rule: 'audio output', body: chat({ audio: { voice: 'alloy', format: 'wav' } }), field: 'audio' },
  { rule: 'an audio modality', body: chat({ modalities: ['text', 'audio'] }), field: 'modalities' },
  { rule: 'a predicted output', body: chat({ prediction: { type: 'content', content: 'x' } }), field: 'prediction' },
  { rule: 'reasoning_effort', body: chat({ reasoning_effort: 'low' }), field: 'reasoning_effort' },
  { rule: 'web_search_options', body: chat({ web_search_options: {} }), field: 'web_search_options' },
  { rule: 'store: true', body: chat({ store: true }), field: 'store' },
  { rule: 'stream_options without stream', body: chat({ stream_options: { include_usage: true } }), field: 'stream_options' },
  { rule: 'max_tokens and max_completion_tokens that differ', body: chat({ max_tokens: 4, max_completion_tokens: 5 }), field: 'max_completion_tokens' },
  { rule: 'an empty stop sequence', body: chat({ stop: ['.', ''] }), field: 'stop[1]' },
  { rule: 'a JSON response format on an engine that cannot constrain output', body: chat({ response_format: { type: 'json_object' } }), field: 'response_format.type' },
  { rule: 'an unknown model', body: chat({ model: 'gpt-9' }), field: 'model' },
  { rule: 'a model whose engine has no chat endpoint (triton)', body: chat({ model: 'tensor' }), field: 'model' },
  { rule: 'max_tokens above server.max_tokens_limit', body: chat({ max_tokens: 5_000 }), field: 'max_tokens' },
];

// ORCH-1106 ORCH-1102: the legacy completion parameters the gateway refuses.
const COMPLETION_PARAMETERS: Case[] = [
  { rule: 'n: 2', body: completion({ n: 2 }), field: 'n' },
  { rule: 'echo: true', body: completion({ echo: true }), field: 'echo' },
  { rule: 'a suffix', body: completion({ suffix: 'end' }), field: 'suffix' },
  { rule: 'best_of: 2', body: completion({ best_of: 2 }), field: 'best_of' },
  { rule: 'logprobs', body: completion({ logprobs: 2 }), field: 'logprobs' },
  { rule: 'stream_options without stream', body: completion({ stream_options: { include_usage: true } }), field: 'stream_options' },
  { rule: 'an unknown model', body: completion({ model: 'gpt-9' }), field: 'model' },
  { rule: 'max_tokens above server.max_tokens_limit', body: completion({ max_tokens: 5_000 }), field: 'max_tokens' },
];

const anUser = (content: unknown = 'hi') => ({ role: 'user', content });
const message = (over: Record<string, unknown>) => ({ model: 'demo', max_tokens: 4, messages: [anUser()], ...over });
const anTool = { name: 'get_weather', input_schema: { type: 'object' } };
const toolUse = (id: string) => ({ type: 'tool_use', id, name: 'get_weather', input: { city: 'Paris' } });
const toolResult = (id: string) => ({ type: 'tool_result', tool_use_id: id, content: '18C' });

// ORCH-1101 ORCH-1102 ORCH-1108
const ANTHROPIC_CASES: Case[] = [
  { rule: 'empty conversation', body: message({ messages: [] }), field: 'messages' },
  { rule: 'system role inside messages', body: message({ messages: [anUser(), { role: 'system', content: 'x' }] }), field: 'messages[1].role' },
  { rule: 'first message from the assistant', body: message({ messages: [{ role: 'assistant', content: 'hi' }, anUser()] }), field: 'messages[0].role' },
  { rule: 'conversation ends with the assistant (prefill)', body: message({ messages: [anUser(), { role: 'assistant', content: 'Sure' }] }), field: 'messages[1].role' },
  { rule: 'empty system string', body: message({ system: '' }), field: 'system' },
  { rule: 'image block in the system prompt', body: message({ system: [{ type: 'image' }] }), field: 'system[0].type' },
  { rule: 'empty content string', body: message({ messages: [anUser('')] }), field: 'messages[0].content' },
  { rule: 'empty content blocks', body: message({ messages: [anUser([])] }), field: 'messages[0].content' },
  { rule: 'empty text block', body: message({ messages: [anUser([{ type: 'text', text: '' }])] }), field: 'messages[0].content[0].text' },
  { rule: 'unsupported block type', body: message({ messages: [anUser([{ type: 'document' }])] }), field: 'messages[0].content[0].type' },
  { rule: 'image with an unaccepted media type', body: message({ messages: [anUser([{ type: 'image', source: { type: 'base64', media_type: 'image/bmp', data: 'iVBORw0KGgo=' } }])] }), field: 'messages[0].content[0].source.media_type' },
  { rule: 'image in an assistant turn', body: message({ messages: [anUser(), { role: 'assistant', content: [{ type: 'image', source: { type: 'url', url: 'https://x/y.png' } }] }, anUser()] }), field: 'messages[1].content[0].type' },
  { rule: 'tool_use in a user turn', body: message({ tools: [anTool], messages: [anUser([toolUse('t1')])] }), field: 'messages[0].content[0].type' },
  { rule: 'tool_use whose input is not an object', body: message({ tools: [anTool], messages: [anUser(), { role: 'assistant', content: [{ ...toolUse('t1'), input: 'Paris' }] }, anUser([toolResult('t1')])] }), field: 'messages[1].content[0].input' },
  { rule: 'duplicate tool_use id', body: message({ tools: [anTool], messages: [anUser(), { role: 'assistant', content: [toolUse('t1'), toolUse('t1')] }] }), field: 'messages[1].content[1].id' },
  { rule: 'tool_result answering no earlier tool_use', body: message({ tools: [anTool], messages: [anUser([toolResult('t9')])] }), field: 'messages[0].content[0].tool_use_id' },
  { rule: 'tool_result after text in the same turn', body: message({ tools: [anTool], messages: [anUser(), { role: 'assistant', content: [toolUse('t1')] }, anUser([{ type: 'text', text: 'here' }, toolResult('t1')])] }), field: 'messages[2].content[1].type' },
  { rule: 'tool_use left without a tool_result in the next turn', body: message({ tools: [anTool], messages: [anUser(), { role: 'assistant', content: [toolUse('t1')] }, anUser('and?')] }), field: 'messages[1].content[0].id' },
  { rule: 'server tool type', body: message({ tools: [{ ...anTool, type: 'web_search_20250305' }] }), field: 'tools[0].type' },
  { rule: 'tool defined twice', body: message({ tools: [anTool, anTool] }), field: 'tools[1].name' },
  { rule: 'tool_choice naming an unknown tool', body: message({ tools: [anTool], tool_choice: { type: 'tool', name: 'other' } }), field: 'tool_choice.name' },
  { rule: 'tool_choice any without tools', body: message({ tool_choice: { type: 'any' } }), field: 'tool_choice' },
  { rule: 'top_k', body: message({ top_k: 5 }), field: 'top_k' },
  { rule: 'extended thinking', body: message({ thinking: { type: 'enabled', budget_tokens: 1_024 } }), field: 'thinking' },
  { rule: 'MCP servers', body: message({ mcp_servers: [{ type: 'url', url: 'https://mcp.example', name: 'x' }] }), field: 'mcp_servers' },
  { rule: 'a code container', body: message({ container: 'c-1' }), field: 'container' },
  { rule: 'an empty stop sequence', body: message({ stop_sequences: [''] }), field: 'stop_sequences[0]' },
  { rule: 'an unknown model', body: message({ model: 'claude-9' }), field: 'model' },
  { rule: 'a model whose engine has no chat endpoint (triton)', body: message({ model: 'tensor' }), field: 'model' },
  { rule: 'max_tokens above server.max_tokens_limit', body: message({ max_tokens: 5_000 }), field: 'max_tokens' },
];

let seq = 0;

async function refusedByOpenAi(path: string, body: Record<string, unknown>): Promise<{ error: OpenAiApiError; correlationId: string }> {
  const correlationId = `bad-openai-${++seq}`;
  const outcome = await openAiClient(gw, { fetch: transport.fetch }).post(path, { body, headers: { 'x-correlation-id': correlationId } }).then(() => undefined, (e: unknown) => e);
  if (!(outcome instanceof OpenAiApiError)) throw new Error(`expected an APIError, got ${String(outcome)}`);
  return { error: outcome, correlationId };
}

describe('bad inputs to the OpenAI routes', () => {
  // ORCH-1101 ORCH-1102 ORCH-1103
  it.each([
    ...OPENAI_CONVERSATION.map((c) => ({ ...c, path: '/chat/completions' })),
    ...OPENAI_PARAMETERS.map((c) => ({ ...c, path: '/chat/completions' })),
    ...COMPLETION_PARAMETERS.map((c) => ({ ...c, path: '/completions' })),
  ])('$path: $rule → 400 INVALID_PARAMS, param $field, nothing admitted', async ({ path, body, field }) => {
    const before = await visibleState();
    const { error, correlationId } = await refusedByOpenAi(path, body);
    expect(error.status).toBe(400);
    expect(error.error).toEqual({ message: expect.stringMatching(new RegExp(`^(${escape(field)}|unknown model|model )`)), type: 'invalid_request_error', param: field, code: 'INVALID_PARAMS' });
    expect(error.param).toBe(field);
    expect(error.code).toBe('INVALID_PARAMS');
    expect(error.headers?.get('x-correlation-id')).toBe(correlationId);
    expect(error.headers?.get('x-should-retry')).toBe('false');
    expect(await visibleState()).toEqual(before);
  });
});

describe('bad inputs to the Anthropic route', () => {
  // ORCH-1101 ORCH-1102 ORCH-1103 ORCH-1108
  it.each(ANTHROPIC_CASES)('$rule → 400 invalid_request_error naming $field, nothing admitted', async ({ body, field }) => {
    const before = await visibleState();
    const correlationId = `bad-anthropic-${++seq}`;
    const outcome = await anthropicClient(gw, { fetch: transport.fetch }).post('/v1/messages', { body, headers: { 'x-correlation-id': correlationId } }).then(() => undefined, (e: unknown) => e);
    if (!(outcome instanceof AnthropicApiError)) throw new Error(`expected an APIError, got ${String(outcome)}`);
    expect(outcome.status).toBe(400);
    expect(outcome.error).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringMatching(new RegExp(`^(${escape(field)}|unknown model|model )`)) }, request_id: correlationId });
    expect(outcome.headers.get('x-correlation-id')).toBe(correlationId);
    expect(await visibleState()).toEqual(before);
  });
});

describe('the snapshot of visible state', () => {
  // ORCH-1100: the check above is not vacuous: one accepted request changes every part of it that admission touches.
  it('changes when a valid chat request is admitted', async () => {
    const before = await visibleState();
    await openAiClient(gw, { fetch: transport.fetch }).chat.completions.create({ model: 'demo', max_tokens: 2, messages: [{ role: 'user', content: 'hi' }] });
    const after = await visibleState();
    expect(after.tasks).toBe(before.tasks + 1);
    expect(after.admittedFacts).toBe(before.admittedFacts + 1);
    expect(after.auditAdmissions).toBe(before.auditAdmissions + 1);
    expect(after.enqueued).toBe(before.enqueued + 1);
  });

  // ORCH-1106: triton has no chat endpoint but serves legacy completions, so its refusal above is the chat capability, not the pool.
  it('serves a legacy completion on the triton pool that refuses chat', async () => {
    const before = await visibleState();
    const done = await openAiClient(gw, { fetch: transport.fetch }).completions.create({ model: 'tensor', prompt: 'hello', max_tokens: 3 });
    expect(done.usage?.completion_tokens).toBe(3);
    expect((await visibleState()).engineGenerations).toBe(before.engineGenerations + 1);
  });
});

describe('auth on the dialect routes', () => {
  // ORCH-1103 ORCH-1107 ORCH-1108
  it('refuses a missing key with 401 in each dialect envelope and admits nothing', async () => {
    const guarded = await startGateway(testConfig({ auth: { data_tokens: ['data-secret'], control_tokens: [] } }));
    try {
      const openAiPaths: Array<[string, 'GET' | 'POST', unknown]> = [
        ['/v1/chat/completions', 'POST', chat({})],
        ['/v1/completions', 'POST', completion({})],
        ['/v1/models', 'GET', undefined],
      ];
      for (const [path, method, body] of openAiPaths) {
        const res = method === 'GET' ? await guarded.get(path, { 'x-correlation-id': 'no-key' }) : await guarded.post(path, body, { 'x-correlation-id': 'no-key' });
        expect(res.status, path).toBe(401);
        expect(res.headers['x-correlation-id']).toBe('no-key');
        expect(res.body, path).toEqual({ error: { message: expect.any(String), type: 'authentication_error', param: null, code: 'UNAUTHORIZED' } });
      }
      // x-api-key is Anthropic's header only: the OpenAI routes do not read it.
      const apiKeyOnOpenAi = await guarded.post('/v1/chat/completions', chat({}), { 'x-api-key': 'data-secret' });
      expect(apiKeyOnOpenAi.status).toBe(401);
      const res = await guarded.post('/v1/messages', message({}), { 'x-correlation-id': 'no-key' });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ type: 'error', error: { type: 'authentication_error', message: expect.any(String) }, request_id: 'no-key' });
      const wrongKey = await guarded.post('/v1/messages', message({}), { 'x-api-key': 'wrong' });
      expect(wrongKey.status).toBe(401);
      expect(guarded.tasks.size).toBe(0);
    } finally {
      await guarded.close();
    }
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
