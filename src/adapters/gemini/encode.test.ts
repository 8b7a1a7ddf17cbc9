import { describe, expect, it } from 'vitest';
import type { ValidConversation } from '../../core/chat/conversation.ts';
import { EngineError, type CanonicalRequest } from '../contract.ts';
import { encodeGemini, geminiModelPath, geminiStreamPath } from './encode.ts';

const base: CanonicalRequest = { taskId: 't-1', model: 'gemini-2.5-flash', prompt: 'Hé 🙂', maxTokens: 64 };
const conv = (over: Partial<ValidConversation>): ValidConversation => ({
  messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
  tools: [],
  toolChoice: { type: 'auto' },
  responseFormat: { type: 'text' },
  ...over,
});
const tool = { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, additionalProperties: false } };

describe('encodeGemini', () => {
  const cases: Array<{ name: string; req: CanonicalRequest; body: string; warnings?: string[] }> = [
    {
      name: 'a completion is one user turn; max tokens always sent',
      req: base,
      body: '{"contents":[{"role":"user","parts":[{"text":"Hé 🙂"}]}],"generationConfig":{"maxOutputTokens":64}}',
    },
    {
      name: 'sampling knobs map to generationConfig; slot, cache and trace hints are not body fields',
      req: { ...base, seed: 7, temperature: 0.5, topP: 0.8, stop: ['\n\n'], slotId: 1, cachePrompt: true, traceparent: 'x' },
      body: '{"contents":[{"role":"user","parts":[{"text":"Hé 🙂"}]}],"generationConfig":{"maxOutputTokens":64,"temperature":0.5,"topP":0.8,"stopSequences":["\\n\\n"],"seed":7}}',
    },
    {
      name: 'system and developer text go to systemInstruction (developer with a warning); assistant is model',
      req: {
        ...base,
        chat: conv({
          messages: [
            { role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
            { role: 'developer', content: [{ type: 'text', text: 'No emoji.' }] },
            { role: 'user', content: [{ type: 'text', text: 'Hi' }, { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBORw0K' } }] },
            { role: 'assistant', content: [{ type: 'text', text: 'Hello.' }], toolCalls: [] },
            { role: 'user', content: [{ type: 'text', text: 'More' }] },
          ],
        }),
      },
      body: '{"contents":[{"role":"user","parts":[{"text":"Hi"},{"inlineData":{"mimeType":"image/png","data":"iVBORw0K"}}]},{"role":"model","parts":[{"text":"Hello."}]},{"role":"user","parts":[{"text":"More"}]}],"generationConfig":{"maxOutputTokens":64},"systemInstruction":{"parts":[{"text":"Be brief."},{"text":"No emoji."}]}}',
      warnings: ['role_renamed'],
    },
    {
      name: 'tool calls become functionCall parts and their results one user turn of functionResponses named after the calls',
      req: {
        ...base,
        chat: conv({
          tools: [tool, { name: 'get_time', parameters: { type: 'object' } }],
          toolChoice: { type: 'tool', name: 'get_weather' },
          parallelToolCalls: false,
          messages: [
            { role: 'user', content: [{ type: 'text', text: 'Weather and time?' }] },
            { role: 'assistant', content: [], toolCalls: [{ id: 'a', name: 'get_weather', arguments: '{"city":"Paris"}' }, { id: 'b', name: 'get_time', arguments: '{}' }] },
            { role: 'tool', toolCallId: 'a', content: [{ type: 'text', text: '18°C' }], isError: false },
            { role: 'tool', toolCallId: 'b', content: [{ type: 'text', text: 'clock down' }], isError: true },
          ],
        }),
      },
      body: '{"contents":[{"role":"user","parts":[{"text":"Weather and time?"}]},{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}},{"functionCall":{"name":"get_time","args":{}}}]},{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"output":"18°C"}}},{"functionResponse":{"name":"get_time","response":{"error":"clock down"}}}]}],"generationConfig":{"maxOutputTokens":64},"tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather","parametersJsonSchema":{"type":"object","properties":{"city":{"type":"string"}},"additionalProperties":false}},{"name":"get_time","parametersJsonSchema":{"type":"object"}}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}}}',
      warnings: ['field_not_forwarded'],
    },
    {
      name: 'tool choice none and required, and a JSON schema response format',
      req: { ...base, chat: conv({ tools: [tool], toolChoice: { type: 'required' }, responseFormat: { type: 'json_schema', name: 'w', schema: { type: 'object' } } }) },
      body: '{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"generationConfig":{"maxOutputTokens":64,"responseMimeType":"application/json","responseJsonSchema":{"type":"object"}},"tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather","parametersJsonSchema":{"type":"object","properties":{"city":{"type":"string"}},"additionalProperties":false}}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY"}}}',
    },
    {
      name: 'json_object asks for JSON without a schema; tool choice none is NONE',
      req: { ...base, chat: conv({ tools: [tool], toolChoice: { type: 'none' }, responseFormat: { type: 'json_object' } }) },
      body: '{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"generationConfig":{"maxOutputTokens":64,"responseMimeType":"application/json"},"tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather","parametersJsonSchema":{"type":"object","properties":{"city":{"type":"string"}},"additionalProperties":false}}]}],"toolConfig":{"functionCallingConfig":{"mode":"NONE"}}}',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { body, warnings } = encodeGemini(c.req);
      expect(JSON.stringify(body)).toBe(c.body);
      expect(warnings.map((w) => w.code)).toEqual(c.warnings ?? []);
    });
  }

  it.each([
    ['an image URL', conv({ messages: [{ role: 'user', content: [{ type: 'text', text: 'see' }, { type: 'image', source: { kind: 'url', url: 'https://x/a.png' } }] }] }), 'messages[0].content[1]'],
    [
      'an image in a tool result',
      conv({
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'go' }] },
          { role: 'assistant', content: [], toolCalls: [{ id: 'a', name: 'shot', arguments: '{}' }] },
          { role: 'tool', toolCallId: 'a', content: [{ type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'AA' } }], isError: false },
        ],
      }),
      'messages[2].content[0]',
    ],
  ])('refuses %s with INVALID_PARAMS naming the field', (_name, chat, field) => {
    const thrown = (() => {
      try {
        encodeGemini({ ...base, chat });
        return undefined;
      } catch (err) {
        return err;
      }
    })();
    expect(thrown).toBeInstanceOf(EngineError);
    expect(thrown).toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringContaining(field) });
  });

  it('builds the stream and model paths with the version, escaping the model and dropping a models/ prefix', () => {
    expect(geminiStreamPath('v1beta', 'gemini-2.5-flash')).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    expect(geminiModelPath('v1', 'models/tuned model')).toBe('/v1/models/tuned%20model');
  });
});
