import { describe, expect, it } from 'vitest';
import type { ValidConversation } from '../../core/chat/conversation.ts';
import { EngineError, type CanonicalRequest } from '../contract.ts';
import { encodeOllama } from './encode.ts';

const base: CanonicalRequest = { taskId: 't-1', model: 'llama3.2', prompt: 'Hé 🙂', maxTokens: 64 };
const conv = (over: Partial<ValidConversation>): ValidConversation => ({
  messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
  tools: [],
  toolChoice: { type: 'auto' },
  responseFormat: { type: 'text' },
  ...over,
});
const tool = { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } };
const TOOLS = '"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]';

describe('encodeOllama', () => {
  const cases: Array<{ name: string; req: CanonicalRequest; settings?: Parameters<typeof encodeOllama>[1]; body: string; warnings?: string[] }> = [
    {
      name: 'a completion is one user message; num_predict always sent',
      req: base,
      body: '{"model":"llama3.2","messages":[{"role":"user","content":"Hé 🙂"}],"stream":true,"options":{"num_predict":64}}',
    },
    {
      name: 'sampling knobs, num_ctx and keep_alive; slot and cache hints are not body fields',
      req: { ...base, seed: 7, temperature: 0.5, topP: 0.8, stop: ['\n\n'], slotId: 1, cachePrompt: true },
      settings: { numCtx: 8192, keepAlive: '5m' },
      body: '{"model":"llama3.2","messages":[{"role":"user","content":"Hé 🙂"}],"stream":true,"options":{"num_predict":64,"temperature":0.5,"top_p":0.8,"stop":["\\n\\n"],"seed":7,"num_ctx":8192},"keep_alive":"5m"}',
    },
    {
      name: 'system stays a message, developer becomes one with a warning, images go bare in images',
      req: {
        ...base,
        chat: conv({
          messages: [
            { role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
            { role: 'developer', content: [{ type: 'text', text: 'No emoji.' }] },
            { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBORw0K' } }] },
          ],
        }),
      },
      body: '{"model":"llama3.2","messages":[{"role":"system","content":"Be brief."},{"role":"system","content":"No emoji."},{"role":"user","content":"What is this?","images":["iVBORw0K"]}],"stream":true,"options":{"num_predict":64}}',
      warnings: ['role_renamed'],
    },
    {
      name: 'tool calls carry object arguments, tool results name their tool; a forced choice and an error flag are warned about',
      req: {
        ...base,
        chat: conv({
          tools: [tool],
          toolChoice: { type: 'required' },
          messages: [
            { role: 'user', content: [{ type: 'text', text: 'Weather?' }] },
            { role: 'assistant', content: [], toolCalls: [{ id: 'a', name: 'get_weather', arguments: '{"city":"Paris"}' }] },
            { role: 'tool', toolCallId: 'a', content: [{ type: 'text', text: 'down' }], isError: true },
          ],
        }),
      },
      body: `{"model":"llama3.2","messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Paris"}}}]},{"role":"tool","content":"down","tool_name":"get_weather"}],"stream":true,"options":{"num_predict":64},${TOOLS}}`,
      warnings: ['field_not_forwarded', 'field_not_forwarded'],
    },
    {
      name: 'tool choice none offers no tools; json_object is format json',
      req: { ...base, chat: conv({ tools: [tool], toolChoice: { type: 'none' }, responseFormat: { type: 'json_object' } }) },
      body: '{"model":"llama3.2","messages":[{"role":"user","content":"Hi"}],"stream":true,"options":{"num_predict":64},"format":"json"}',
    },
    {
      name: 'a JSON schema response format is the format itself',
      req: { ...base, chat: conv({ tools: [tool], responseFormat: { type: 'json_schema', name: 'w', schema: { type: 'object', required: ['a'] } } }) },
      body: `{"model":"llama3.2","messages":[{"role":"user","content":"Hi"}],"stream":true,"options":{"num_predict":64},${TOOLS},"format":{"type":"object","required":["a"]}}`,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { body, warnings } = encodeOllama(c.req, c.settings);
      expect(JSON.stringify(body)).toBe(c.body);
      expect(warnings.map((w) => w.code)).toEqual(c.warnings ?? []);
    });
  }

  it('refuses an image URL with INVALID_PARAMS naming the field', () => {
    const chat = conv({ messages: [{ role: 'user', content: [{ type: 'image', source: { kind: 'url', url: 'https://x/a.png' } }] }] });
    expect(() => encodeOllama({ ...base, chat })).toThrow(EngineError);
    expect(() => encodeOllama({ ...base, chat })).toThrow(/messages\[0\]\.content\[0\]/);
  });
});
