// The Anthropic frames, bodies and error envelopes read by the official `@anthropic-ai/sdk`
// itself: its fetch answers with what our codec wrote, so the SDK's SSE parser, MessageStream
// accumulator and error classes judge the shapes.
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { ChatAnswerBuilder } from '../../core/chat/answer.ts';
import type { ChatOutputEvent } from '../../core/chat/output-event.ts';
import { orchError } from '../../core/errors.ts';
import { anthropicErrorResponse } from './errors.ts';
import { AnthropicMessageFrames } from './frames.ts';
import { anthropicMessage } from './response.ts';

const init = { id: 'msg_t1', model: 'demo', inputTokens: 12 };
const usage = { inputTokens: 12, outputTokens: 9, cachedInputTokens: 4 };
const toolAnswer: ChatOutputEvent[] = [
  { kind: 'text', text: 'Checking ' },
  { kind: 'text', text: '“Zürich”.' },
  { kind: 'tool_call_delta', index: 0, id: 'call_1', name: 'get_weather', arguments: '' },
  { kind: 'tool_call_delta', index: 0, arguments: '{"city":' },
  { kind: 'tool_call_delta', index: 0, arguments: '"Zürich"}' },
  { kind: 'tool_call_delta', index: 1, id: 'call_2', name: 'get_time', arguments: '{}' },
  { kind: 'end', finish: 'tool_calls', usage },
];

function stream(events: ChatOutputEvent[]): string {
  const frames = new AnthropicMessageFrames(init);
  return frames.start() + frames.ping() + events.map((e) => frames.write(e)).join('');
}

function client(answer: () => Response): { sdk: Anthropic; calls: { n: number } } {
  const calls = { n: 0 };
  const fetch = async (): Promise<Response> => {
    calls.n++;
    return answer();
  };
  return { sdk: new Anthropic({ apiKey: 'test', baseURL: 'http://gateway.test', fetch, maxRetries: 1 }), calls };
}

const sse = (body: string) => () => new Response(body, { headers: { 'content-type': 'text/event-stream' } });
const request = { model: 'demo', max_tokens: 64, messages: [{ role: 'user' as const, content: 'weather?' }] };

describe('AnthropicMessageFrames', () => {
  it('writes message_start, one block per text run and tool call, message_delta with usage, message_stop', () => {
    const events = [...stream(toolAnswer).matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
    expect(events).toEqual([
      'message_start', 'ping',
      'content_block_start', 'content_block_delta', 'content_block_delta',
      'content_block_stop', 'content_block_start', 'content_block_delta', 'content_block_delta',
      'content_block_stop', 'content_block_start', 'content_block_delta',
      'content_block_stop', 'message_delta', 'message_stop',
    ]);
    expect(stream(toolAnswer)).toContain('event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":12,"output_tokens":9,"cache_read_input_tokens":4}}\n\n');
  });

  it('is accumulated by the SDK MessageStream into text and tool_use blocks with parsed input', async () => {
    const { sdk } = client(sse(stream(toolAnswer)));
    const message = await sdk.messages.stream(request).finalMessage();
    expect(message).toMatchObject({
      id: 'msg_t1',
      role: 'assistant',
      stop_reason: 'tool_use',
      content: [
        { type: 'text', text: 'Checking “Zürich”.' },
        { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Zürich' } },
        { type: 'tool_use', id: 'call_2', name: 'get_time', input: {} },
      ],
      usage: { input_tokens: 12, output_tokens: 9 },
    });
  });

  it('maps each finish reason to its stop_reason', () => {
    const reason = (finish: 'stop' | 'length' | 'content_filter') =>
      /"stop_reason":"([a-z_]+)"/.exec(new AnthropicMessageFrames(init).write({ kind: 'end', finish, usage }))?.[1];
    expect([reason('stop'), reason('length'), reason('content_filter')]).toEqual(['end_turn', 'max_tokens', 'refusal']);
  });

  it('answers stop_sequence with the matched string when the engine named it, streaming and whole, as the SDK reads them', async () => {
    const stopped: ChatOutputEvent[] = [{ kind: 'text', text: 'one, two' }, { kind: 'end', finish: 'stop', usage, stopSequence: ', "three"' }];
    const streamed = await client(sse(stream(stopped))).sdk.messages.stream(request).finalMessage();
    expect(streamed).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: ', "three"' });
    const builder = new ChatAnswerBuilder();
    for (const e of stopped) builder.push(e);
    const outcome = builder.result();
    if (outcome?.status !== 'complete') throw new Error('expected a complete answer');
    const body = anthropicMessage({ id: 'msg_t1', model: 'demo' }, outcome.answer);
    expect(body.ok && body.value).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: ', "three"' });
    // A stop the engine did not name stays end_turn with stop_sequence null.
    const plain = await client(sse(stream([{ kind: 'text', text: 'one' }, { kind: 'end', finish: 'stop', usage }]))).sdk.messages.stream(request).finalMessage();
    expect(plain).toMatchObject({ stop_reason: 'end_turn', stop_sequence: null });
  });

  it('ends with an error event the SDK raises on a failure mid-stream', async () => {
    const { sdk } = client(sse(stream([{ kind: 'text', text: 'hi' }, { kind: 'error', error: orchError('REPLICA_EXHAUSTED', 'busy') }])));
    await expect(sdk.messages.stream(request).finalMessage()).rejects.toThrow(/overloaded_error/);
  });
});

describe('anthropicMessage', () => {
  const answerOf = (events: ChatOutputEvent[]) => {
    const builder = new ChatAnswerBuilder();
    for (const e of events) builder.push(e);
    const outcome = builder.result();
    if (outcome?.status !== 'complete') throw new Error('expected a complete answer');
    return outcome.answer;
  };

  it('builds a message body the SDK returns as a typed Message', async () => {
    const body = anthropicMessage(init, answerOf(toolAnswer));
    if (!body.ok) throw new Error(body.error.message);
    const { sdk } = client(() => Response.json(body.value));
    const message = await sdk.messages.create(request);
    expect(message.content.map((b) => b.type)).toEqual(['text', 'tool_use', 'tool_use']);
    expect(message.usage).toMatchObject({ input_tokens: 12, output_tokens: 9, cache_read_input_tokens: 4 });
  });

  it('leaves out a tool call cut by max_tokens before its JSON closed, and ends max_tokens', () => {
    const cut = anthropicMessage(init, answerOf([
      { kind: 'text', text: 'Let me look.' },
      { kind: 'tool_call_delta', index: 0, id: 'call_0', name: 'get_weather', arguments: '{"city":"Oslo"}' },
      { kind: 'tool_call_delta', index: 1, id: 'call_1', name: 'get_weather', arguments: '{"city":"Zü' },
      { kind: 'end', finish: 'length', usage },
    ]));
    expect(cut).toMatchObject({
      ok: true,
      value: { stop_reason: 'max_tokens', content: [{ type: 'text', text: 'Let me look.' }, { type: 'tool_use', id: 'call_0', input: { city: 'Oslo' } }] },
    });
  });

  it('fails instead of inventing input when a finished answer holds arguments that are not a JSON object', () => {
    const bad = anthropicMessage(init, answerOf([
      { kind: 'tool_call_delta', index: 0, id: 'call_1', name: 'get_weather', arguments: '["Zürich"]' },
      { kind: 'end', finish: 'tool_calls', usage },
    ]));
    expect(bad).toEqual({ ok: false, error: expect.objectContaining({ code: 'ENGINE_ERROR' }) });
  });
});

describe('anthropicErrorResponse', () => {
  it('renders a capacity refusal as 503 overloaded_error with retry headers and the request id', () => {
    expect(anthropicErrorResponse(orchError('POOL_UNREADY', 'no ready replica', { retry_after_ms: 250 }), 'req-1')).toEqual({
      status: 503,
      headers: { 'x-should-retry': 'true', 'retry-after': '1', 'retry-after-ms': '250' },
      body: { type: 'error', error: { type: 'overloaded_error', message: 'no ready replica' }, request_id: 'req-1' },
    });
  });

  it('is surfaced by the SDK as its RateLimitError for a 429', async () => {
    const res = anthropicErrorResponse(orchError('RATE_LIMITED', 'slow down', { retry_after_ms: 1 }), 'req-2');
    const { sdk, calls } = client(() => Response.json(res.body, { status: res.status, headers: res.headers }));
    await expect(sdk.messages.create(request)).rejects.toBeInstanceOf(Anthropic.RateLimitError);
    expect(calls.n).toBe(2);
  });
});
