import { describe, expect, it } from 'vitest';
import type { ValidConversation } from '../../core/chat/conversation.ts';
import { conversationText } from '../../core/chat/prompt-text.ts';
import type { ChatCanonicalRequest, ChatStreamEvent } from '../contract.ts';
import { createMockAdapter } from './adapter.ts';
import { mockTokens } from './tokens.ts';

const timeouts = { connectMs: 1000, firstByteMs: 1000, idleMs: 1000 };
const mock = createMockAdapter({ baseUrl: '', model: 'demo', timeouts, options: {}, slots: 2, mock: { tokens_per_s: 100_000, first_token_delay_ms: 0 } });
const weather = { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' }, metric: { type: 'boolean' } } } };
const clock = { name: 'get_time', parameters: { type: 'object', properties: {} } };

function conversation(text: string, over: Partial<ValidConversation> = {}): ValidConversation {
  return { messages: [{ role: 'user', content: [{ type: 'text', text }] }], tools: [weather, clock], toolChoice: { type: 'auto' }, responseFormat: { type: 'text' }, ...over };
}

function request(chat: ValidConversation, maxTokens = 12): ChatCanonicalRequest {
  return { taskId: 't1', model: 'demo', prompt: conversationText(chat), maxTokens, seed: 7, chat };
}

async function run(req: ChatCanonicalRequest): Promise<ChatStreamEvent[]> {
  const out: ChatStreamEvent[] = [];
  for await (const e of mock.stream(req, new AbortController().signal)) out.push(e);
  return out;
}

const argsOf = (events: ChatStreamEvent[]) => events.flatMap((e) => (e.type === 'tool_call_delta' ? [e.arguments] : [])).join('');

describe('mock engine, chat workload', () => {
  it('declares chat with tools and vision, and no json modes or logprobs', () => {
    expect(mock.capabilities.chat).toEqual({ vision: true, tools: true, responseFormat: false, logprobs: false });
  });

  it('answers in exactly max_tokens tokens seeded by the conversation text when no tool is mentioned', async () => {
    const req = request(conversation('hello there'));
    const events = await run(req);
    expect(events.filter((e) => e.type === 'token').map((e) => (e.type === 'token' ? e.text : ''))).toEqual(mockTokens(req.prompt, 7, 12));
    expect(events.at(-1)).toEqual({ type: 'end', finishReason: 'length', completionTokens: 12 });
  });

  it('calls the tool the last user message names under auto, with JSON arguments for its declared properties', async () => {
    const events = await run(request(conversation('what is the weather? use get_weather'), 64));
    expect(events[0]).toMatchObject({ type: 'tool_call_delta', index: 0, id: 'call_t1_0', name: 'get_weather' });
    expect(Object.keys(JSON.parse(argsOf(events)) as object)).toEqual(['city', 'days', 'metric']);
    expect(events.at(-1)).toEqual({ type: 'end', finishReason: 'tool_calls', completionTokens: events.length - 1 });
  });

  it('gives the same call for the same seed and conversation', async () => {
    const req = request(conversation('use get_weather'), 64);
    expect(await run(req)).toEqual(await run(req));
  });

  it('calls the first tool under required and the named tool under a named choice, without a mention', async () => {
    expect((await run(request(conversation('hi', { toolChoice: { type: 'required' } }), 64)))[0]).toMatchObject({ name: 'get_weather' });
    expect((await run(request(conversation('hi', { toolChoice: { type: 'tool', name: 'get_time' } }), 64)))[0]).toMatchObject({ name: 'get_time', arguments: '{}' });
  });

  it('answers in text under tool_choice none, and after a tool result', async () => {
    expect((await run(request(conversation('use get_weather', { toolChoice: { type: 'none' } }))))[0]?.type).toBe('token');
    const afterResult = conversation('use get_weather', {
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'use get_weather' }] },
        { role: 'assistant', content: [], toolCalls: [{ id: 'call_t0_0', name: 'get_weather', arguments: '{}' }] },
        { role: 'tool', toolCallId: 'call_t0_0', content: [{ type: 'text', text: '18C' }], isError: false },
      ],
    });
    expect((await run(request(afterResult)))[0]?.type).toBe('token');
  });

  it('cuts a tool call at max_tokens fragments and finishes with length', async () => {
    const events = await run(request(conversation('use get_weather'), 2));
    expect(events.filter((e) => e.type === 'tool_call_delta')).toHaveLength(2);
    expect(events.at(-1)).toEqual({ type: 'end', finishReason: 'length', completionTokens: 2 });
  });
});
