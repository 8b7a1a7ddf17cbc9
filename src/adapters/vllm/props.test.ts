import { describe, expect, it } from 'vitest';
import { decodeVllmModel, decodeVllmVersion } from './props.ts';

describe('vLLM props documents', () => {
  const models = {
    object: 'list',
    data: [
      { id: 'base', object: 'model', owned_by: 'vllm', root: '/m/base', parent: null, max_model_len: 32768, permission: [{ id: 'modelperm-1' }] },
      { id: 'lora-a', object: 'model', owned_by: 'vllm', root: '/m/lora', parent: 'base', max_model_len: 32768 },
    ],
  };

  it('reads the version', () => {
    expect(decodeVllmVersion({ version: '0.11.0' })).toBe('0.11.0');
    expect(decodeVllmVersion('0.11.0')).toBeUndefined();
  });

  it('picks the configured model card, else the first one', () => {
    expect(decodeVllmModel(models, 'lora-a')).toEqual({ model: 'lora-a', ctxMax: 32768 });
    expect(decodeVllmModel(models, 'missing')).toEqual({ model: 'base', ctxMax: 32768 });
  });

  it('refuses a list without max_model_len or without models', () => {
    expect(decodeVllmModel({ data: [{ id: 'x' }] }, 'x')).toBeUndefined();
    expect(decodeVllmModel({ data: [] }, 'x')).toBeUndefined();
    expect(decodeVllmModel({ detail: 'Not Found' }, 'x')).toBeUndefined();
  });
});
