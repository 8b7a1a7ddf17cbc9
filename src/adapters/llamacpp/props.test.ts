import { describe, expect, it } from 'vitest';
import { decodeLlamacppProps, decodeSlotsFree } from './props.ts';

describe('decodeLlamacppProps', () => {
  it('reads a current /props document, ignoring unknown keys', () => {
    const doc = {
      default_generation_settings: { id: 0, n_ctx: 8192, params: { seed: 4294967295 } },
      total_slots: 4,
      model_alias: 'qwen2.5-7b',
      model_path: '/models/qwen.gguf',
      build_info: 'b6097-9515c613',
      modalities: { vision: false },
      endpoint_slots: true,
      is_sleeping: false,
    };
    expect(decodeLlamacppProps(doc, 'cfg-model')).toEqual({ engineVersion: 'b6097-9515c613', model: 'qwen2.5-7b', ctxMax: 8192, slotsTotal: 4, deterministic: true });
  });

  it('falls back for old builds: model path, unknown version, one slot', () => {
    const doc = { default_generation_settings: { n_ctx: 2048 }, model_path: '/m/old.gguf', system_prompt: '' };
    expect(decodeLlamacppProps(doc, 'cfg')).toEqual({ engineVersion: 'unknown', model: '/m/old.gguf', ctxMax: 2048, slotsTotal: 1, deterministic: true });
  });

  it('uses the configured model name when the engine names none', () => {
    expect(decodeLlamacppProps({ n_ctx: 512, model_alias: '' }, 'cfg')?.model).toBe('cfg');
  });

  it('refuses a document without a context size', () => {
    expect(decodeLlamacppProps({ total_slots: 2 }, 'm')).toBeUndefined();
    expect(decodeLlamacppProps('nope', 'm')).toBeUndefined();
  });
});

describe('decodeSlotsFree', () => {
  it('counts idle slots', () => {
    expect(decodeSlotsFree([{ id: 0, is_processing: true }, { id: 1, is_processing: false }, { id: 2, is_processing: false }])).toBe(2);
  });
  it('is undefined for an error body', () => {
    expect(decodeSlotsFree({ error: { code: 501 } })).toBeUndefined();
  });
});
