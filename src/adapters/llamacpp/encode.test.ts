import { describe, expect, it } from 'vitest';
import type { CanonicalRequest } from '../contract.ts';
import { encodeLlamacpp } from './encode.ts';

const base: CanonicalRequest = { taskId: 't-1', model: 'm', prompt: 'Hé 🙂', maxTokens: 16 };

const cases: Array<{ name: string; req: CanonicalRequest; body: string }> = [
  {
    name: 'minimal request: any slot, prompt cache on, sampling left to the engine',
    req: base,
    body: '{"prompt":"Hé 🙂","n_predict":16,"stream":true,"id_slot":-1,"cache_prompt":true}',
  },
  {
    name: 'session request pins its slot and passes every sampling knob',
    req: { ...base, slotId: 3, cachePrompt: true, seed: 42, temperature: 0, topP: 0.9, stop: ['\n\n', '</s>'] },
    body: '{"prompt":"Hé 🙂","n_predict":16,"stream":true,"id_slot":3,"cache_prompt":true,"seed":42,"temperature":0,"top_p":0.9,"stop":["\\n\\n","</s>"]}',
  },
  {
    name: 'cache_prompt false is sent as false, an empty stop list is omitted',
    req: { ...base, cachePrompt: false, stop: [], seed: 0 },
    body: '{"prompt":"Hé 🙂","n_predict":16,"stream":true,"id_slot":-1,"cache_prompt":false,"seed":0}',
  },
  {
    name: 'gateway-only fields (task id, model, traceparent) never enter the body',
    req: { ...base, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    body: '{"prompt":"Hé 🙂","n_predict":16,"stream":true,"id_slot":-1,"cache_prompt":true}',
  },
];

describe('encodeLlamacpp', () => {
  for (const c of cases) {
    it(c.name, () => {
      expect(JSON.stringify(encodeLlamacpp(c.req))).toBe(c.body);
    });
  }
});
