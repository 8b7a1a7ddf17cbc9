import { describe, expect, it } from 'vitest';
import type { ChatCapabilities } from './conversation.ts';
import { normalizeChat, type AnthropicChatInput, type ChatInput, type OpenAiChatInput } from './normalize.ts';

const ALL: ChatCapabilities = { vision: true, tools: true, responseFormat: true, logprobs: false };
const TEXT_ONLY: ChatCapabilities = { vision: false, tools: false, responseFormat: false, logprobs: false };

const weatherTool = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
const call = (id: string, args = '{"city":"Paris"}') => ({ id, type: 'function', function: { name: 'get_weather', arguments: args } });
const user = (content: OpenAiChatInput['messages'][number]['content'] = 'hi') => ({ role: 'user', content });
const png = 'data:image/png;base64,iVBORw0KGgo=';

const oa = (body: Partial<OpenAiChatInput>): ChatInput => ({ dialect: 'openai', body: { messages: [user()], ...body } });
const an = (body: Partial<AnthropicChatInput>): ChatInput => ({ dialect: 'anthropic', body: { messages: [{ role: 'user', content: 'hi' }], ...body } });
const toolUse = (id: string) => ({ type: 'tool_use', id, name: 'get_weather', input: { city: 'Paris' } });
const toolResult = (id: string) => ({ type: 'tool_result', tool_use_id: id, content: '18C' });
const anTool = { name: 'get_weather', input_schema: { type: 'object' } };

interface Case {
  rule: string;
  input: ChatInput;
  caps?: ChatCapabilities;
  field: string;
}

// One case per rule; each asserts the code and the exact field named.
const OPENAI_CASES: Case[] = [
  { rule: 'empty conversation', input: oa({ messages: [] }), field: 'messages' },
  { rule: 'unknown role', input: oa({ messages: [user(), { role: 'robot', content: 'x' }] }), field: 'messages[1].role' },
  { rule: 'system message after the conversation began', input: oa({ messages: [user(), { role: 'system', content: 'be brief' }, user()] }), field: 'messages[1].role' },
  { rule: 'developer message after the conversation began', input: oa({ messages: [user(), { role: 'developer', content: 'be brief' }, user()] }), field: 'messages[1].role' },
  { rule: 'empty system content', input: oa({ messages: [{ role: 'system', content: '' }, user()] }), field: 'messages[0].content' },
  { rule: 'image in a system message', input: oa({ messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: png } }] }, user()] }), field: 'messages[0].content[0].type' },
  { rule: 'empty user content string', input: oa({ messages: [user('')] }), field: 'messages[0].content' },
  { rule: 'empty user content parts', input: oa({ messages: [user([])] }), field: 'messages[0].content' },
  { rule: 'null user content', input: oa({ messages: [user(null)] }), field: 'messages[0].content' },
  { rule: 'empty text part', input: oa({ messages: [user([{ type: 'text', text: '' }])] }), field: 'messages[0].content[0].text' },
  { rule: 'unsupported content part', input: oa({ messages: [user([{ type: 'input_audio' }])] }), field: 'messages[0].content[0].type' },
  { rule: 'image when the target has no vision', input: oa({ messages: [user([{ type: 'image_url', image_url: { url: png } }])] }), caps: { ...ALL, vision: false }, field: 'messages[0].content[0]' },
  { rule: 'image URL that is neither http(s) nor data', input: oa({ messages: [user([{ type: 'image_url', image_url: { url: 'file:///etc/passwd' } }])] }), field: 'messages[0].content[0].image_url.url' },
  { rule: 'data URL with a non-image media type', input: oa({ messages: [user([{ type: 'image_url', image_url: { url: 'data:text/plain;base64,aGk=' } }])] }), field: 'messages[0].content[0].image_url.url' },
  { rule: 'data URL that is not base64', input: oa({ messages: [user([{ type: 'image_url', image_url: { url: 'data:image/png;base64,@@@' } }])] }), field: 'messages[0].content[0].image_url.url' },
  { rule: 'no user message', input: oa({ messages: [{ role: 'system', content: 'be brief' }] }), field: 'messages' },
  { rule: 'conversation ends with an assistant message', input: oa({ messages: [user(), { role: 'assistant', content: 'Hello' }] }), field: 'messages[1].role' },
  { rule: 'assistant without content or tool calls', input: oa({ messages: [user(), { role: 'assistant', content: null }, user()] }), field: 'messages[1].content' },
  { rule: 'assistant with an empty tool_calls array', input: oa({ messages: [user(), { role: 'assistant', content: 'x', tool_calls: [] }, user()] }), field: 'messages[1].tool_calls' },
  { rule: 'tool call arguments that are not JSON', input: oa({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [call('c1', '{city:')] }, { role: 'tool', tool_call_id: 'c1', content: 'x' }] }), field: 'messages[1].tool_calls[0].function.arguments' },
  { rule: 'tool call arguments that are JSON but not an object', input: oa({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [call('c1', '[1]')] }, { role: 'tool', tool_call_id: 'c1', content: 'x' }] }), field: 'messages[1].tool_calls[0].function.arguments' },
  { rule: 'tool call with an invalid function name', input: oa({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [{ ...call('c1'), function: { name: 'get weather', arguments: '{}' } }] }, { role: 'tool', tool_call_id: 'c1', content: 'x' }] }), field: 'messages[1].tool_calls[0].function.name' },
  { rule: 'tool call with an empty id', input: oa({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [call('')] }] }), field: 'messages[1].tool_calls[0].id' },
  { rule: 'tool call of a type other than function', input: oa({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [{ ...call('c1'), type: 'custom' }] }] }), field: 'messages[1].tool_calls[0].type' },
  { rule: 'duplicate tool call id in one message', input: oa({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [call('c1'), call('c1')] }] }), field: 'messages[1].tool_calls[1].id' },
  { rule: 'duplicate tool call id across turns', input: oa({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [call('c1')] }, { role: 'tool', tool_call_id: 'c1', content: 'x' }, user(), { role: 'assistant', tool_calls: [call('c1')] }, { role: 'tool', tool_call_id: 'c1', content: 'x' }] }), field: 'messages[4].tool_calls[0].id' },
  { rule: 'tool message answering no earlier call', input: oa({ tools: [weatherTool], messages: [user(), { role: 'tool', tool_call_id: 'nope', content: 'x' }] }), field: 'messages[1].tool_call_id' },
  { rule: 'tool message answering a call twice', input: oa({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [call('c1')] }, { role: 'tool', tool_call_id: 'c1', content: 'x' }, { role: 'tool', tool_call_id: 'c1', content: 'y' }] }), field: 'messages[3].tool_call_id' },
  { rule: 'tool message without tool_call_id', input: oa({ tools: [weatherTool], messages: [user(), { role: 'tool', content: 'x' }] }), field: 'messages[1].tool_call_id' },
  { rule: 'tool message with an image part', input: oa({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [call('c1')] }, { role: 'tool', tool_call_id: 'c1', content: [{ type: 'image_url', image_url: { url: png } }] }] }), field: 'messages[2].content[0].type' },
  { rule: 'tool call left unanswered before the next user message', input: oa({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [call('c1'), call('c2')] }, { role: 'tool', tool_call_id: 'c1', content: 'x' }, user()] }), field: 'messages[1].tool_calls[1].id' },
  { rule: 'tool call left unanswered at the end', input: oa({ tools: [weatherTool], messages: [user(), { role: 'assistant', tool_calls: [call('c1')] }] }), field: 'messages[1].tool_calls[0].id' },
  { rule: 'tools when the target has no tools', input: oa({ tools: [weatherTool] }), caps: TEXT_ONLY, field: 'tools' },
  { rule: 'tool calls in history when the target has no tools', input: oa({ messages: [user(), { role: 'assistant', tool_calls: [call('c1')] }, { role: 'tool', tool_call_id: 'c1', content: 'x' }] }), caps: TEXT_ONLY, field: 'messages[1].tool_calls' },
  { rule: 'tool message when the target has no tools', input: oa({ messages: [user(), { role: 'tool', tool_call_id: 'c1', content: 'x' }] }), caps: TEXT_ONLY, field: 'messages[1].role' },
  { rule: 'tool of a type other than function', input: oa({ tools: [{ ...weatherTool, type: 'web_search' }] }), field: 'tools[0].type' },
  { rule: 'tool with an invalid name', input: oa({ tools: [{ type: 'function', function: { name: 'a.b' } }] }), field: 'tools[0].function.name' },
  { rule: 'tool defined twice', input: oa({ tools: [weatherTool, weatherTool] }), field: 'tools[1].function.name' },
  { rule: 'tool parameters that are not an object', input: oa({ tools: [{ type: 'function', function: { name: 'f', parameters: [] as unknown as Record<string, unknown> /* an array, as a looser schema could let through */ } }] }), field: 'tools[0].function.parameters' },
  { rule: 'tool_choice naming an unknown tool', input: oa({ tools: [weatherTool], tool_choice: { type: 'function', function: { name: 'other' } } }), field: 'tool_choice.function.name' },
  { rule: 'tool_choice required without tools', input: oa({ tool_choice: 'required' }), field: 'tool_choice' },
  { rule: 'json response format when the target cannot constrain output', input: oa({ response_format: { type: 'json_object' } }), caps: { ...ALL, responseFormat: false }, field: 'response_format.type' },
  { rule: 'json_schema response format without a schema', input: oa({ response_format: { type: 'json_schema', json_schema: { name: 'answer' } } }), field: 'response_format.json_schema.schema' },
  { rule: 'json_schema response format with an invalid name', input: oa({ response_format: { type: 'json_schema', json_schema: { name: 'an answer', schema: {} } } }), field: 'response_format.json_schema.name' },
];

const ANTHROPIC_CASES: Case[] = [
  { rule: 'empty conversation', input: an({ messages: [] }), field: 'messages' },
  { rule: 'system role inside messages', input: an({ messages: [{ role: 'user', content: 'hi' }, { role: 'system', content: 'x' }] }), field: 'messages[1].role' },
  { rule: 'first message from the assistant', input: an({ messages: [{ role: 'assistant', content: 'hi' }, { role: 'user', content: 'hi' }] }), field: 'messages[0].role' },
  { rule: 'conversation ends with the assistant (prefill)', input: an({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'Sure' }] }), field: 'messages[1].role' },
  { rule: 'empty system string', input: an({ system: '' }), field: 'system' },
  { rule: 'image block in the system prompt', input: an({ system: [{ type: 'image' }] }), field: 'system[0].type' },
  { rule: 'empty content string', input: an({ messages: [{ role: 'user', content: '' }] }), field: 'messages[0].content' },
  { rule: 'empty content blocks', input: an({ messages: [{ role: 'user', content: [] }] }), field: 'messages[0].content' },
  { rule: 'empty text block', input: an({ messages: [{ role: 'user', content: [{ type: 'text', text: '' }] }] }), field: 'messages[0].content[0].text' },
  { rule: 'unsupported block type', input: an({ messages: [{ role: 'user', content: [{ type: 'document' }] }] }), field: 'messages[0].content[0].type' },
  { rule: 'image when the target has no vision', input: an({ messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] }] }), caps: { ...ALL, vision: false }, field: 'messages[0].content[0]' },
  { rule: 'image with an unaccepted media type', input: an({ messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/bmp', data: 'iVBORw0KGgo=' } }] }] }), field: 'messages[0].content[0].source.media_type' },
  { rule: 'image in an assistant turn', input: an({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [{ type: 'image', source: { type: 'url', url: 'https://x/y.png' } }] }, { role: 'user', content: 'hi' }] }), field: 'messages[1].content[0].type' },
  { rule: 'tool_use in a user turn', input: an({ tools: [anTool], messages: [{ role: 'user', content: [toolUse('t1')] }] }), field: 'messages[0].content[0].type' },
  { rule: 'tool_use whose input is not an object', input: an({ tools: [anTool], messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [{ ...toolUse('t1'), input: 'Paris' }] }, { role: 'user', content: [toolResult('t1')] }] }), field: 'messages[1].content[0].input' },
  { rule: 'duplicate tool_use id', input: an({ tools: [anTool], messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [toolUse('t1'), toolUse('t1')] }] }), field: 'messages[1].content[1].id' },
  { rule: 'tool_result answering no earlier tool_use', input: an({ tools: [anTool], messages: [{ role: 'user', content: [toolResult('t9')] }] }), field: 'messages[0].content[0].tool_use_id' },
  { rule: 'tool_result after text in the same turn', input: an({ tools: [anTool], messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [toolUse('t1')] }, { role: 'user', content: [{ type: 'text', text: 'here' }, toolResult('t1')] }] }), field: 'messages[2].content[1].type' },
  { rule: 'tool_use left without a tool_result in the next turn', input: an({ tools: [anTool], messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [toolUse('t1')] }, { role: 'user', content: 'and?' }] }), field: 'messages[1].content[0].id' },
  { rule: 'tools when the target has no tools', input: an({ tools: [anTool] }), caps: TEXT_ONLY, field: 'tools' },
  { rule: 'server tool type', input: an({ tools: [{ ...anTool, type: 'web_search_20250305' }] }), field: 'tools[0].type' },
  { rule: 'tool defined twice', input: an({ tools: [anTool, anTool] }), field: 'tools[1].name' },
  { rule: 'tool_choice naming an unknown tool', input: an({ tools: [anTool], tool_choice: { type: 'tool', name: 'other' } }), field: 'tool_choice.name' },
  { rule: 'tool_choice any without tools', input: an({ tool_choice: { type: 'any' } }), field: 'tool_choice' },
];

describe.each([
  ['OpenAI', OPENAI_CASES],
  ['Anthropic', ANTHROPIC_CASES],
])('normalizeChat refuses a bad %s conversation', (_dialect, cases) => {
  it.each(cases)('$rule → INVALID_PARAMS naming $field', ({ input, caps, field }) => {
    const result = normalizeChat(input, caps ?? ALL);
    expect(result).toEqual({ ok: false, error: expect.objectContaining({ code: 'INVALID_PARAMS', field, retriable: false }) });
    if (!result.ok) expect(result.error.message.startsWith(field)).toBe(true);
  });
});

describe('normalizeChat accepts', () => {
  it('an OpenAI tool round trip with developer instructions, an image and parallel calls', () => {
    const result = normalizeChat(oa({
      messages: [
        { role: 'developer', content: 'be brief' },
        user([{ type: 'text', text: 'weather?' }, { type: 'image_url', image_url: { url: png, detail: 'low' } }]),
        { role: 'assistant', content: null, tool_calls: [call('c1'), call('c2', '{"city":"Oslo"}')] },
        { role: 'tool', tool_call_id: 'c2', content: '3C' },
        { role: 'tool', tool_call_id: 'c1', content: '' },
      ],
      tools: [weatherTool],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: false,
    }), ALL);
    expect(result).toEqual({
      ok: true,
      value: {
        messages: [
          { role: 'developer', content: [{ type: 'text', text: 'be brief' }] },
          { role: 'user', content: [{ type: 'text', text: 'weather?' }, { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBORw0KGgo=' }, detail: 'low' }] },
          { role: 'assistant', content: [], toolCalls: [{ id: 'c1', name: 'get_weather', arguments: '{"city":"Paris"}' }, { id: 'c2', name: 'get_weather', arguments: '{"city":"Oslo"}' }] },
          { role: 'tool', toolCallId: 'c2', content: [{ type: 'text', text: '3C' }], isError: false },
          { role: 'tool', toolCallId: 'c1', content: [], isError: false },
        ],
        tools: [{ name: 'get_weather', parameters: weatherTool.function.parameters }],
        toolChoice: { type: 'tool', name: 'get_weather' },
        responseFormat: { type: 'text' },
        parallelToolCalls: false,
      },
    });
  });

  it('an OpenAI tool without parameters as a function of no arguments, and a json_schema format', () => {
    const result = normalizeChat(oa({
      tools: [{ type: 'function', function: { name: 'now', description: 'time' } }],
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object' }, strict: true } },
    }), ALL);
    expect(result.ok && result.value.tools).toEqual([{ name: 'now', description: 'time', parameters: { type: 'object', properties: {} } }]);
    expect(result.ok && result.value.responseFormat).toEqual({ type: 'json_schema', name: 'answer', schema: { type: 'object' }, strict: true });
  });

  it('an Anthropic conversation: system first, tool_use as a call, tool_result as a tool message before the rest of the turn', () => {
    const result = normalizeChat(an({
      system: [{ type: 'text', text: 'be brief' }],
      tools: [anTool],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      messages: [
        { role: 'user', content: 'weather?' },
        { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }, toolUse('toolu_1')] },
        { role: 'user', content: [{ ...toolResult('toolu_1'), is_error: true }, { type: 'text', text: 'thanks' }] },
      ],
    }), ALL);
    expect(result).toEqual({
      ok: true,
      value: {
        messages: [
          { role: 'system', content: [{ type: 'text', text: 'be brief' }] },
          { role: 'user', content: [{ type: 'text', text: 'weather?' }] },
          { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }], toolCalls: [{ id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Paris"}' }] },
          { role: 'tool', toolCallId: 'toolu_1', content: [{ type: 'text', text: '18C' }], isError: true },
          { role: 'user', content: [{ type: 'text', text: 'thanks' }] },
        ],
        tools: [{ name: 'get_weather', parameters: { type: 'object' } }],
        toolChoice: { type: 'required' },
        responseFormat: { type: 'text' },
        parallelToolCalls: false,
      },
    });
  });

  it('an Anthropic turn made only of tool results, as tool messages with no empty user message', () => {
    const result = normalizeChat(an({
      tools: [anTool],
      messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [toolUse('a'), toolUse('b')] }, { role: 'user', content: [toolResult('a'), toolResult('b')] }],
    }), ALL);
    expect(result.ok && result.value.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'tool']);
  });

  it('gives the same answer for the same input (deterministic)', () => {
    const input = oa({ messages: [user(), { role: 'robot', content: 'x' }] });
    expect(normalizeChat(input, ALL)).toEqual(normalizeChat(input, ALL));
  });
});
