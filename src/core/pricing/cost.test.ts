import { describe, expect, it } from 'vitest';
import { findPrice, priceUsage, taskCost, type Price } from './cost.ts';

const sonnet: Price = { input_per_mtok: 3, cached_input_per_mtok: 0.3, output_per_mtok: 15 };

describe('priceUsage', () => {
  it.each([
    ['fresh input and output', { inputTokens: 1_000_000, outputTokens: 0 }, 3],
    ['output only', { inputTokens: 0, outputTokens: 1_000_000 }, 15],
    ['cached input at the cached price, the rest at the input price', { inputTokens: 1_000, cachedInputTokens: 800, outputTokens: 100 }, (200 * 3 + 800 * 0.3 + 100 * 15) / 1e6],
    ['cached tokens beyond the input are not billed', { inputTokens: 100, cachedInputTokens: 500, outputTokens: 0 }, (100 * 0.3) / 1e6],
    ['nothing used costs nothing', { inputTokens: 0, outputTokens: 0 }, 0],
  ])('%s', (_title, usage, usd) => {
    expect(priceUsage(sonnet, usage)).toBeCloseTo(usd, 12);
  });

  it('prices cached input at the input price when the row has no cached price', () => {
    expect(priceUsage({ input_per_mtok: 2, output_per_mtok: 8 }, { inputTokens: 1_000, cachedInputTokens: 1_000, outputTokens: 0 })).toBeCloseTo(0.002, 12);
  });
});

describe('taskCost', () => {
  const usage = { inputTokens: 1_000, cachedInputTokens: 0, outputTokens: 500 };

  it('uses the price table and charges budgets the same USD amount', () => {
    expect(taskCost({ usage, price: sonnet, model: 'm', fallbackPer1kTokens: 1 })).toEqual({ source: 'price_table', usd: 0.0105, budget: 0.0105 });
  });

  it('lets a provider-reported cost win over the price table, labelled as reported', () => {
    expect(taskCost({ usage: { ...usage, reportedUsd: 0.02 }, price: sonnet, model: 'm', fallbackPer1kTokens: 1 })).toEqual({ source: 'reported', usd: 0.02, budget: 0.02 });
  });

  it('accepts a reported cost of zero (a free model) and ignores a non-finite or negative one', () => {
    expect(taskCost({ usage: { ...usage, reportedUsd: 0 }, price: sonnet, model: 'm', fallbackPer1kTokens: 1 })).toMatchObject({ source: 'reported', usd: 0 });
    expect(taskCost({ usage: { ...usage, reportedUsd: Number.NaN }, price: sonnet, model: 'm', fallbackPer1kTokens: 1 })).toMatchObject({ source: 'price_table' });
    expect(taskCost({ usage: { ...usage, reportedUsd: -1 }, price: sonnet, model: 'm', fallbackPer1kTokens: 1 })).toMatchObject({ source: 'price_table' });
  });

  it('without a price warns and charges budgets the fallback rate per 1000 tokens, with no USD figure', () => {
    const cost = taskCost({ usage, price: undefined, model: 'llama-3', fallbackPer1kTokens: 2 });
    expect(cost).toEqual({ source: 'unpriced', budget: 3, warning: 'no price for model llama-3' });
    expect('usd' in cost).toBe(false);
  });
});

describe('findPrice', () => {
  const table = [
    { model: 'anthropic/claude-sonnet-4.5', ...sonnet },
    { model: 'demo', input_per_mtok: 1, output_per_mtok: 1 },
  ];

  it('matches the engine model before the client model', () => {
    expect(findPrice(['anthropic/claude-sonnet-4.5', 'demo'], table, [])).toEqual({ model: 'anthropic/claude-sonnet-4.5', price: table[0] });
  });

  it('falls back to the client model, then to catalog pricing, then to nothing', () => {
    expect(findPrice(['other', 'demo'], table, [])?.model).toBe('demo');
    const catalogPrice = { input_per_mtok: 5, output_per_mtok: 6 };
    expect(findPrice(['x'], table, [{ id: 'x', pricing: catalogPrice }])).toEqual({ model: 'x', price: catalogPrice });
    expect(findPrice(['x'], table, [{ id: 'x' }])).toBeUndefined();
  });

  it('prefers a price table row over catalog pricing for the same model', () => {
    expect(findPrice(['demo'], table, [{ id: 'demo', pricing: { input_per_mtok: 9, output_per_mtok: 9 } }])?.price).toBe(table[1]);
  });
});
