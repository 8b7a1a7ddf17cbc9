import { describe, expect, it } from 'vitest';
import type { ChatCanonicalRequest } from '../contract.ts';
import { encodeChat } from './chat-encode.ts';

const base = (over: Partial<ChatCanonicalRequest['chat']> = {}): ChatCanonicalRequest => ({
  taskId: 't1',
  model: 'qwen',
  prompt: 'user: hi',
  maxTokens: 64,
  chat: { messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], tools: [], toolChoice: { type: 'auto' }, responseFormat: { type: 'text' }, ...over },
});

describe('encodeChat', () => {
  it('sends a plain conversation with only the fields the request sets', () => {
    expect(encodeChat({ ...base(), seed: 3, stop: ['\n'] })).toEqual({
      body: { model: 'qwen', messages: [{ role: 'user', content: 'hi' }], max_tokens: 64, stream: true, stream_options: { include_usage: true }, seed: 3, stop: ['\n'] },
      warnings: [],
    });
  });

  it('encodes images, tool calls, tool results, tools, tool choice and a json schema format', () => {
    const { body, warnings } = encodeChat(base({
      messages: [
        { role: 'developer', content: [{ type: 'text', text: 'brief' }] },
        { role: 'user', content: [{ type: 'text', text: 'see' }, { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'AAAA' }, detail: 'low' }] },
        { role: 'assistant', content: [], toolCalls: [{ id: 'c1', name: 'f', arguments: '{"a":1}' }] },
        { role: 'tool', toolCallId: 'c1', content: [{ type: 'text', text: 'ok' }], isError: true },
      ],
      tools: [{ name: 'f', parameters: { type: 'object' } }],
      toolChoice: { type: 'tool', name: 'f' },
      responseFormat: { type: 'json_schema', name: 'out', schema: { type: 'object' } },
      parallelToolCalls: false,
    }));
    expect(body.messages).toEqual([
      { role: 'system', content: 'brief' },
      { role: 'user', content: [{ type: 'text', text: 'see' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } }] },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'ok' },
    ]);
    expect(body.tools).toEqual([{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }]);
    expect(body.tool_choice).toEqual({ type: 'function', function: { name: 'f' } });
    expect(body.parallel_tool_calls).toBe(false);
    expect(body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object' } } });
    expect(warnings.map((w) => [w.code, w.field])).toEqual([['role_renamed', 'messages[0].role'], ['field_not_forwarded', 'messages[3].is_error']]);
  });

  it('sends no tool_choice when no tools are given', () => {
    expect(encodeChat(base({ toolChoice: { type: 'none' } })).body).not.toHaveProperty('tool_choice');
  });
});
