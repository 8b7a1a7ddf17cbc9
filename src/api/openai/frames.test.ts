// The OpenAI frames, bodies and error envelopes read by the official `openai` SDK itself: its
// fetch is replaced by one that answers with what our codec wrote, so the SDK's own SSE parser,
// stream accumulator, error classes and retry rules judge the shapes.
import OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import { ChatAnswerBuilder } from '../../core/chat/answer.ts';
import type { ChatOutputEvent } from '../../core/chat/output-event.ts';
import { orchError } from '../../core/errors.ts';
import { OpenAiCompletionFrames } from './completion-frames.ts';
import { openAiErrorResponse } from './errors.ts';
import { OpenAiChatFrames } from './frames.ts';
import { openAiChatCompletion } from './response.ts';

const init = { id: 'chatcmpl-t1', model: 'demo', created: 1735689600 };
const usage = { inputTokens: 12, outputTokens: 5, cachedInputTokens: 4 };

const toolAnswer: ChatOutputEvent[] = [
  { kind: 'text', text: 'Let me check “Zürich”.' },
  { kind: 'tool_call_delta', index: 0, id: 'call_1', name: 'get_weather', arguments: '' },
  { kind: 'tool_call_delta', index: 0, arguments: '{"city":' },
  { kind: 'tool_call_delta', index: 0, arguments: '"Zürich"}' },
  { kind: 'tool_call_delta', index: 1, id: 'call_2', name: 'get_time', arguments: '{}' },
  { kind: 'end', finish: 'tool_calls', usage },
];

function chatStream(events: ChatOutputEvent[], includeUsage: boolean): string {
  const frames = new OpenAiChatFrames({ ...init, includeUsage });
  return frames.start() + events.map((e) => frames.write(e)).join('');
}

/** An SDK client whose every request is answered by `answer`; `calls` counts the requests. */
function client(answer: () => Response): { sdk: OpenAI; calls: { n: number } } {
  const calls = { n: 0 };
  const fetch = async (): Promise<Response> => {
    calls.n++;
    return answer();
  };
  return { sdk: new OpenAI({ apiKey: 'test', baseURL: 'http://gateway.test/v1', fetch, maxRetries: 1 }), calls };
}

const sse = (body: string) => () => new Response(body, { headers: { 'content-type': 'text/event-stream' } });
const request = { model: 'demo', messages: [{ role: 'user' as const, content: 'weather?' }] };

describe('OpenAiChatFrames', () => {
  it('writes the exact chunk frames, the usage chunk and [DONE]', () => {
    const frames = new OpenAiChatFrames({ ...init, includeUsage: true });
    const head = 'data: {"id":"chatcmpl-t1","object":"chat.completion.chunk","created":1735689600,"model":"demo","choices":[';
    expect(frames.start()).toBe(`${head}{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}\n\n`);
    expect(frames.write({ kind: 'text', text: 'a"\n' })).toBe(`${head}{"index":0,"delta":{"content":"a\\"\\n"},"logprobs":null,"finish_reason":null}],"usage":null}\n\n`);
    expect(frames.write({ kind: 'end', finish: 'length', usage: { inputTokens: 3, outputTokens: 2 } })).toBe(
      `${head}{"index":0,"delta":{},"logprobs":null,"finish_reason":"length"}],"usage":null}\n\n` +
      `${head}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}\n\n` +
      'data: [DONE]\n\n',
    );
  });

  it('is read by the SDK stream as text, two accumulated tool calls, the finish reason and the usage', async () => {
    const { sdk } = client(sse(chatStream(toolAnswer, true)));
    const stream = await sdk.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17, prompt_tokens_details: { cached_tokens: 4 } } });

    const { sdk: again } = client(sse(chatStream(toolAnswer, true)));
    const final = await again.chat.completions.stream({ ...request, stream: true }).finalChatCompletion();
    expect(final.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: {
        role: 'assistant',
        content: 'Let me check “Zürich”.',
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Zürich"}' } },
          { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
        ],
      },
    });
  });

  it('sends no usage chunk and no usage keys when the client did not ask', () => {
    const body = chatStream([{ kind: 'text', text: 'hi' }, { kind: 'end', finish: 'stop', usage }], false);
    expect(body).not.toContain('usage');
    expect(body.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('ends with an error frame the SDK raises, and no [DONE], on a failure mid-stream', async () => {
    const body = chatStream([{ kind: 'text', text: 'hi' }, { kind: 'error', error: orchError('WORKER_RESET', 'the engine stream broke after 1 tokens') }], false);
    expect(body).not.toContain('[DONE]');
    const { sdk } = client(sse(body));
    const read = async () => {
      for await (const _chunk of await sdk.chat.completions.create({ ...request, stream: true })) { /* drain */ }
    };
    await expect(read()).rejects.toThrow('the engine stream broke after 1 tokens');
  });

  it('ends a canceled task with an error frame, never a normal finish', () => {
    const frames = new OpenAiChatFrames({ ...init, includeUsage: false });
    const out = frames.write({ kind: 'end', finish: 'canceled', usage });
    expect(out).toMatch(/^data: \{"error":\{"message":"the task was canceled before it finished"/);
    expect(out).not.toContain('[DONE]');
  });
});

describe('OpenAiCompletionFrames', () => {
  it('writes text_completion chunks, the finish chunk, usage and [DONE], read by the SDK', async () => {
    const frames = new OpenAiCompletionFrames({ ...init, id: 'cmpl-t1', includeUsage: true });
    const body = [{ kind: 'text', text: 'Once' }, { kind: 'text', text: ' upon' }, { kind: 'end', finish: 'length', usage: { inputTokens: 2, outputTokens: 2 } }]
      .map((e) => frames.write(e as ChatOutputEvent)).join('');
    const { sdk } = client(sse(body));
    const texts: string[] = [];
    let finish: string | null | undefined;
    for await (const c of await sdk.completions.create({ model: 'demo', prompt: 'x', stream: true, stream_options: { include_usage: true } })) {
      texts.push(c.choices[0]?.text ?? '');
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(texts.join('')).toBe('Once upon');
    expect(finish).toBe('length');
  });

  it('writes nothing for a tool call (the completion workload has none) instead of throwing inside the log listener', () => {
    const frames = new OpenAiCompletionFrames({ ...init, includeUsage: false });
    expect(frames.write({ kind: 'tool_call_delta', index: 0, id: 'c', name: 'f', arguments: '' })).toBe('');
  });
});

describe('openAiChatCompletion', () => {
  it('builds a chat.completion body the SDK returns as a typed ChatCompletion', async () => {
    const builder = new ChatAnswerBuilder();
    for (const e of toolAnswer) builder.push(e);
    const outcome = builder.result();
    if (outcome?.status !== 'complete') throw new Error('expected a complete answer');
    const body: ChatCompletion = openAiChatCompletion(init, outcome.answer);
    const { sdk } = client(() => Response.json(body));
    const completion = await sdk.chat.completions.create(request);
    expect(completion.choices[0]?.message.tool_calls?.map((c) => c.id)).toEqual(['call_1', 'call_2']);
    expect(completion.usage).toEqual({ prompt_tokens: 12, completion_tokens: 5, total_tokens: 17, prompt_tokens_details: { cached_tokens: 4 } });
  });
});

describe('openAiErrorResponse', () => {
  it('renders a queue-full refusal as a 429 rate_limit_error with both retry headers', async () => {
    const res = openAiErrorResponse(orchError('ADMISSION_REJECT', 'queue full', { retry_after_ms: 1500 }));
    expect(res).toEqual({
      status: 429,
      headers: { 'x-should-retry': 'true', 'retry-after': '2', 'retry-after-ms': '1500' },
      body: { error: { message: 'queue full', type: 'rate_limit_error', param: null, code: 'ADMISSION_REJECT' } },
    });
  });

  it('names the field as param on a validation error, which the SDK surfaces as BadRequestError', async () => {
    const res = openAiErrorResponse(orchError('INVALID_PARAMS', 'messages[1].tool_call_id does not answer', { field: 'messages[1].tool_call_id' }));
    const { sdk } = client(() => Response.json(res.body, { status: res.status, headers: res.headers }));
    const err = await sdk.chat.completions.create(request).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ status: 400, param: 'messages[1].tool_call_id', code: 'INVALID_PARAMS', type: 'invalid_request_error' });
  });

  it('stops the SDK from retrying a non-retriable 5xx (x-should-retry: false) and lets it retry a retriable one', async () => {
    const internal = openAiErrorResponse(orchError('INTERNAL', 'internal error'));
    const noRetry = client(() => Response.json(internal.body, { status: internal.status, headers: internal.headers }));
    await expect(noRetry.sdk.chat.completions.create(request)).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    expect(noRetry.calls.n).toBe(1);

    const busy = openAiErrorResponse(orchError('REPLICA_EXHAUSTED', 'busy', { retry_after_ms: 1 }));
    const retried = client(() => Response.json(busy.body, { status: busy.status, headers: busy.headers }));
    await expect(retried.sdk.chat.completions.create(request)).rejects.toMatchObject({ status: 503 });
    expect(retried.calls.n).toBe(2);
  });
});
