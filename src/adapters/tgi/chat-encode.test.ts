import { describe, expect, it } from 'vitest';
import type { ResponseFormat } from '../../core/chat/response-format.ts';
import { chatConversation, chatRequest } from '../../../test/support/chat-request.ts';
import { encodeTgiChat } from './chat-encode.ts';

const schema = { type: 'object', properties: { answer: { type: 'string' } } };

describe('encodeTgiChat', () => {
  it('asks for the base model, keeps the shared fields and leaves out parallel_tool_calls', () => {
    const body = encodeTgiChat(chatRequest(chatConversation('Use get_weather', { parallelToolCalls: false }), { temperature: 0.5, topP: 0.9, stop: ['\n\n'] }));
    expect(body).toMatchObject({ model: 'tgi', max_tokens: 6, seed: 42, temperature: 0.5, top_p: 0.9, stop: ['\n\n'], stream: true, stream_options: { include_usage: true }, tool_choice: 'auto' });
    expect(body).not.toHaveProperty('parallel_tool_calls');
  });

  it('leaves out top_p 1.0, which TGI refuses and which cuts nothing', () => {
    expect(encodeTgiChat(chatRequest(chatConversation('hi'), { topP: 1 }))).not.toHaveProperty('top_p');
  });

  it('writes response formats as TGI grammar ({type, value})', () => {
    const format = (responseFormat: ResponseFormat) => encodeTgiChat(chatRequest(chatConversation('hi', { tools: [], responseFormat }))).response_format;
    expect(format({ type: 'text' })).toBeUndefined();
    expect(format({ type: 'json_object' })).toEqual({ type: 'json_object', value: { type: 'object' } });
    expect(format({ type: 'json_schema', name: 'reply', schema, description: 'd', strict: true })).toEqual({ type: 'json_schema', value: { name: 'reply', schema } });
  });
});
