import { describe, expect, it } from 'vitest';
import { parseOptions } from '../http/http-options.ts';
import { TritonOptionsSchema, tritonSlots, tritonWire } from './options.ts';

describe('Triton options', () => {
  it('requires ctx_max, which Triton cannot report', () => {
    expect(() => parseOptions(TritonOptionsSchema, {}, 'triton')).toThrow(/ctx_max/);
  });

  it('rejects unknown keys and unknown roles instead of ignoring them', () => {
    expect(() => parseOptions(TritonOptionsSchema, { ctx_max: 4096, profle: 'llmapi' }, 'triton')).toThrow(/triton/);
    expect(() => parseOptions(TritonOptionsSchema, { ctx_max: 4096, input_names: { prompt: 'x' } }, 'triton')).toThrow(/input_names/);
  });

  it('defaults to the ensemble profile and 64 slots', () => {
    const options = parseOptions(TritonOptionsSchema, { ctx_max: 4096 }, 'triton');
    expect(tritonWire(options)).toMatchObject({ output: 'text_output', textMode: 'delta', inputs: { max_tokens: 'max_tokens', stop: 'stop_words' } });
    expect(tritonSlots(options)).toBe(64);
  });

  it('takes slots over max_batch_size', () => {
    expect(tritonSlots({ max_batch_size: 8 })).toBe(8);
    expect(tritonSlots({ max_batch_size: 8, slots: 3 })).toBe(3);
  });

  it('lets explicit names and text mode override the llmapi profile', () => {
    const wire = tritonWire({ profile: 'llmapi', input_names: { max_tokens: 'max_new' }, output_name: 'OUT', text_mode: 'delta' });
    expect(wire).toMatchObject({ output: 'OUT', textMode: 'delta', inputs: { max_tokens: 'max_new', seed: 'sampling_param_seed', stream: 'streaming' } });
  });
});
