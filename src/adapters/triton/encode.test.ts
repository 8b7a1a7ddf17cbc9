import { describe, expect, it } from 'vitest';
import type { CanonicalRequest } from '../contract.ts';
import { encodeTritonRequest, tritonStreamPath } from './encode.ts';
import { TRITON_PROFILES, tritonWire } from './options.ts';

const base: CanonicalRequest = { taskId: 'task-1', model: 'ensemble', prompt: 'Hello wörld', maxTokens: 16 };

const cases: Array<{ name: string; profile: 'ensemble' | 'llmapi'; req: Partial<CanonicalRequest>; body: Record<string, unknown> }> = [
  { name: 'ensemble: the minimum', profile: 'ensemble', req: {}, body: { id: 'task-1', text_input: 'Hello wörld', max_tokens: 16, stream: true } },
  {
    name: 'ensemble: sampling and stop words',
    profile: 'ensemble',
    req: { seed: 42, temperature: 0.7, topP: 0.9, stop: ['END'] },
    body: { id: 'task-1', text_input: 'Hello wörld', max_tokens: 16, stream: true, seed: 42, temperature: 0.7, top_p: 0.9, stop_words: ['END'] },
  },
  { name: 'ensemble: temperature 0 is greedy top_k 1', profile: 'ensemble', req: { temperature: 0 }, body: { id: 'task-1', text_input: 'Hello wörld', max_tokens: 16, stream: true, top_k: 1 } },
  { name: 'ensemble: empty stop list omitted', profile: 'ensemble', req: { stop: [] }, body: { id: 'task-1', text_input: 'Hello wörld', max_tokens: 16, stream: true } },
  {
    name: 'llmapi: sampling_param names and streaming',
    profile: 'llmapi',
    req: { seed: 7, temperature: 0.5, topP: 0.8, stop: ['\n'] },
    body: {
      id: 'task-1', text_input: 'Hello wörld', sampling_param_max_tokens: 16, streaming: true, sampling_param_seed: 7,
      sampling_param_temperature: 0.5, sampling_param_top_p: 0.8, sampling_param_stop: ['\n'],
    },
  },
  { name: 'llmapi: greedy', profile: 'llmapi', req: { temperature: 0 }, body: { id: 'task-1', text_input: 'Hello wörld', sampling_param_max_tokens: 16, streaming: true, sampling_param_top_k: 1 } },
  { name: 'slot and cache hints are ignored', profile: 'ensemble', req: { slotId: 2, cachePrompt: true }, body: { id: 'task-1', text_input: 'Hello wörld', max_tokens: 16, stream: true } },
];

describe('encodeTritonRequest', () => {
  for (const c of cases) {
    it(c.name, () => {
      expect(encodeTritonRequest({ ...base, ...c.req }, TRITON_PROFILES[c.profile])).toEqual(c.body);
    });
  }

  it('uses explicit input-name overrides over the profile', () => {
    const wire = tritonWire({ profile: 'ensemble', input_names: { seed: 'random_seed', text_input: 'PROMPT' } });
    expect(encodeTritonRequest({ ...base, seed: 3 }, wire)).toEqual({ id: 'task-1', PROMPT: 'Hello wörld', max_tokens: 16, stream: true, random_seed: 3 });
  });

  it('never puts the trace context into the body', () => {
    expect(JSON.stringify(encodeTritonRequest({ ...base, traceparent: '00-abc-def-01' }, TRITON_PROFILES.ensemble))).not.toContain('00-abc');
  });

  it('escapes the model name in the path', () => {
    expect(tritonStreamPath('my model/v2')).toBe('/v2/models/my%20model%2Fv2/generate_stream');
  });
});
