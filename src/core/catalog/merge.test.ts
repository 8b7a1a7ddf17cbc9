import { describe, expect, it } from 'vitest';
import { mergeCatalog, type CatalogInput, type ServedModel } from './merge.ts';

const llama: ServedModel = { id: 'llama', pool_id: 'local', engine: 'ollama', engine_model: 'llama3.2:3b', context_length: 8192 };
const llamaAlias: ServedModel = { ...llama, id: 'small', alias_of: 'llama' };
const input = (over: Partial<CatalogInput> = {}): CatalogInput => ({ served: [llama, llamaAlias], entries: [], prices: [], listings: [], ...over });

describe('mergeCatalog', () => {
  it('lists pool models and aliases first, served, with the live context length', () => {
    expect(mergeCatalog(input())).toEqual([
      { id: 'llama', source: 'pool', served: true, pool_id: 'local', engine: 'ollama', context_length: 8192 },
      { id: 'small', source: 'pool', served: true, pool_id: 'local', engine: 'ollama', alias_of: 'llama', context_length: 8192 },
    ]);
  });

  it('describes a pool model with its catalog entry (the entry wins on context length), and its aliases too', () => {
    const merged = mergeCatalog(input({ entries: [{ id: 'llama', context_length: 131072, description: 'Llama 3.2 3B' }] }));
    expect(merged[0]).toMatchObject({ id: 'llama', context_length: 131072, description: 'Llama 3.2 3B', served: true });
    expect(merged[1]).toMatchObject({ id: 'small', context_length: 131072, description: 'Llama 3.2 3B' });
    expect(merged).toHaveLength(2);
  });

  it('prices a pool model as tasks are priced: engine model row, then model row, then catalog pricing; only price fields shown', () => {
    const prices = [{ model: 'llama3.2:3b', input_per_mtok: 0.1, output_per_mtok: 0.2 }, { model: 'llama', input_per_mtok: 9, output_per_mtok: 9 }];
    expect(mergeCatalog(input({ prices }))[0]?.pricing).toEqual({ input_per_mtok: 0.1, output_per_mtok: 0.2, currency: 'USD' });
    const catalogPrice = { input_per_mtok: 1, cached_input_per_mtok: 0.5, output_per_mtok: 2 };
    expect(mergeCatalog(input({ entries: [{ id: 'llama', pricing: catalogPrice }] }))[0]?.pricing).toEqual({ ...catalogPrice, currency: 'USD' });
  });

  it('adds catalog entries no pool serves after the pools, marked not served', () => {
    const merged = mergeCatalog(input({ entries: [{ id: 'gpt-5', description: 'not routed yet' }], prices: [{ model: 'gpt-5', input_per_mtok: 1.25, output_per_mtok: 10 }] }));
    expect(merged[2]).toEqual({ id: 'gpt-5', source: 'catalog', served: false, description: 'not routed yet', pricing: { input_per_mtok: 1.25, output_per_mtok: 10, currency: 'USD' } });
  });

  it('adds listed ids last; a listing never repeats or overrides a static entry, nor the pool engine model', () => {
    const merged = mergeCatalog(input({
      entries: [{ id: 'qwen3:8b', description: 'static words win' }],
      listings: [
        { pool_id: 'local', ids: ['llama3.2:3b', 'qwen3:8b', 'llama', 'mistral:7b'] },
        { pool_id: 'other', ids: ['mistral:7b', 'phi4'] },
      ],
    }));
    expect(merged.map((m) => [m.id, m.source, m.listed_by])).toEqual([
      ['llama', 'pool', undefined],
      ['small', 'pool', undefined],
      ['qwen3:8b', 'catalog', undefined],
      ['mistral:7b', 'listing', 'local'],
      ['phi4', 'listing', 'other'],
    ]);
    expect(merged.find((m) => m.id === 'qwen3:8b')).toEqual({ id: 'qwen3:8b', source: 'catalog', served: false, description: 'static words win' });
  });

  it('keeps the first pool for an id two pools answer to (different engines may share a model name)', () => {
    const other: ServedModel = { ...llama, pool_id: 'gpu', engine: 'vllm' };
    expect(mergeCatalog(input({ served: [llama, other] })).map((m) => m.pool_id)).toEqual(['local']);
  });
});
