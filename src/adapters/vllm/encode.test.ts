import { describe, expect, it } from 'vitest';
import type { CanonicalRequest } from '../contract.ts';
import { encodeVllm } from './encode.ts';

const base: CanonicalRequest = { taskId: 't-1', model: 'Qwen/Qwen2.5-1.5B-Instruct', prompt: 'Hé 🙂', maxTokens: 64 };

const cases: Array<{ name: string; req: CanonicalRequest; body: string }> = [
  {
    name: 'minimal request always carries max_tokens and asks for the usage chunk',
    req: base,
    body: '{"model":"Qwen/Qwen2.5-1.5B-Instruct","prompt":"Hé 🙂","max_tokens":64,"stream":true,"stream_options":{"include_usage":true}}',
  },
  {
    name: 'seeded request with every sampling knob',
    req: { ...base, seed: 1234, temperature: 0.7, topP: 0.8, stop: ['</s>'] },
    body: '{"model":"Qwen/Qwen2.5-1.5B-Instruct","prompt":"Hé 🙂","max_tokens":64,"stream":true,"stream_options":{"include_usage":true},"seed":1234,"temperature":0.7,"top_p":0.8,"stop":["</s>"]}',
  },
  {
    name: 'slot affinity, cache hints and trace context are not vLLM body fields',
    req: { ...base, slotId: 2, cachePrompt: true, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', stop: [] },
    body: '{"model":"Qwen/Qwen2.5-1.5B-Instruct","prompt":"Hé 🙂","max_tokens":64,"stream":true,"stream_options":{"include_usage":true}}',
  },
];

describe('encodeVllm', () => {
  for (const c of cases) {
    it(c.name, () => {
      expect(JSON.stringify(encodeVllm(c.req))).toBe(c.body);
    });
  }
});
