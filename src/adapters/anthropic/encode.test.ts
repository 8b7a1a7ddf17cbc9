import { describe, expect, it } from 'vitest';
import type { ChatCanonicalRequest } from '../contract.ts';
import { encodeAnthropic } from './encode.ts';

const base = (over: Partial<ChatCanonicalRequest['chat']> = {}): ChatCanonicalRequest => ({
  taskId: 't1',
  model: 'claude',
  prompt: 'x',
  maxTokens: 64,
  chat: { messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], tools: [], toolChoice: { type: 'auto' }, responseFormat: { type: 'text' }, ...over },
});

describe('encodeAnthropic', () => {
  it('sends a plain conversation with only the fields the request sets', () => {
    expect(encodeAnthropic({ ...base(), temperature: 0.2, stop: ['END'] })).toEqual({
      body: { model: 'claude', max_tokens: 64, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], stream: true, temperature: 0.2, stop_sequences: ['END'] },
      warnings: [],
    });
  });

  it('lifts instructions into system, merges tool results into one user turn before the text, and maps tools', () => {
    const { body, warnings } = encodeAnthropic({
      ...base({
        messages: [
          { role: 'system', content: [{ type: 'text', text: 'rules' }] },
          { role: 'developer', content: [{ type: 'text', text: 'more' }] },
          { role: 'user', content: [{ type: 'text', text: 'see' }, { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'AAAA' }, detail: 'low' }], name: 'ann' },
          { role: 'assistant', content: [], toolCalls: [{ id: 'c1', name: 'f', arguments: '{"a":1}' }, { id: 'c2', name: 'f', arguments: '{}' }] },
          { role: 'tool', toolCallId: 'c1', content: [{ type: 'text', text: 'ok' }], isError: false },
          { role: 'tool', toolCallId: 'c2', content: [], isError: true },
          { role: 'user', content: [{ type: 'text', text: 'and?' }] },
        ],
        tools: [{ name: 'f', description: 'does f', parameters: { type: 'object' }, strict: true }],
        toolChoice: { type: 'tool', name: 'f' },
        parallelToolCalls: false,
      }),
      seed: 3,
    });
    expect(body.system).toEqual([{ type: 'text', text: 'rules' }, { type: 'text', text: 'more' }]);
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'see' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'c1', name: 'f', input: { a: 1 } }, { type: 'tool_use', id: 'c2', name: 'f', input: {} }] },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'c1', content: [{ type: 'text', text: 'ok' }] },
          { type: 'tool_result', tool_use_id: 'c2', is_error: true },
          { type: 'text', text: 'and?' },
        ],
      },
    ]);
    expect(body.tools).toEqual([{ name: 'f', description: 'does f', input_schema: { type: 'object' } }]);
    expect(body.tool_choice).toEqual({ type: 'tool', name: 'f', disable_parallel_tool_use: true });
    expect(warnings.map((w) => [w.code, w.field])).toEqual([
      ['role_renamed', 'messages[1].role'],
      ['field_not_forwarded', 'messages[2].name'],
      ['field_not_forwarded', 'messages[2].content[1].detail'],
      ['field_not_forwarded', 'seed'],
      ['field_not_forwarded', 'tools[0].strict'],
    ]);
  });

  it.each([
    [{ type: 'auto' }, { type: 'auto' }],
    [{ type: 'required' }, { type: 'any' }],
    [{ type: 'none' }, { type: 'none' }],
  ] as const)('maps tool choice %j to %j', (choice, wire) => {
    expect(encodeAnthropic(base({ tools: [{ name: 'f', parameters: {} }], toolChoice: choice })).body.tool_choice).toEqual(wire);
  });

  it('sends the completion workload as one user message', () => {
    expect(encodeAnthropic({ taskId: 't', model: 'claude', prompt: 'Once upon', maxTokens: 9 }).body.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Once upon' }] }]);
  });
});
