import { describe, expect, it } from 'vitest';
import type { CanonicalRequest } from '../contract.ts';
import { encodeTgiRequest, type TgiGenerateBody } from './encode.ts';

const base: CanonicalRequest = { taskId: 't-1', model: 'm', prompt: 'Hello wörld', maxTokens: 16 };

const cases: Array<{ name: string; req: Partial<CanonicalRequest>; parameters: TgiGenerateBody['parameters'] }> = [
  { name: 'greedy by default', req: {}, parameters: { max_new_tokens: 16, details: true, do_sample: false } },
  { name: 'temperature turns sampling on', req: { temperature: 0.7, seed: 42 }, parameters: { max_new_tokens: 16, details: true, do_sample: true, temperature: 0.7, seed: 42 } },
  { name: 'temperature 0 stays greedy and is not sent', req: { temperature: 0, seed: 1 }, parameters: { max_new_tokens: 16, details: true, do_sample: false, seed: 1 } },
  { name: 'top_p alone turns sampling on', req: { topP: 0.9 }, parameters: { max_new_tokens: 16, details: true, do_sample: true, top_p: 0.9 } },
  { name: 'top_p 1 is a no-op and not sent', req: { topP: 1 }, parameters: { max_new_tokens: 16, details: true, do_sample: false } },
  { name: 'stop sequences are forwarded', req: { stop: ['\n\n', 'END'] }, parameters: { max_new_tokens: 16, details: true, do_sample: false, stop: ['\n\n', 'END'] } },
  { name: 'an empty stop list is omitted', req: { stop: [] }, parameters: { max_new_tokens: 16, details: true, do_sample: false } },
  { name: 'slot and cache hints are ignored', req: { slotId: 3, cachePrompt: true }, parameters: { max_new_tokens: 16, details: true, do_sample: false } },
];

describe('encodeTgiRequest', () => {
  for (const c of cases) {
    it(c.name, () => {
      expect(encodeTgiRequest({ ...base, ...c.req })).toEqual({ inputs: 'Hello wörld', parameters: c.parameters });
    });
  }

  it('never puts the task id, model or trace context into the body', () => {
    const text = JSON.stringify(encodeTgiRequest({ ...base, traceparent: '00-abc-def-01' }));
    expect(text).not.toContain('t-1');
    expect(text).not.toContain('00-abc');
  });
});
