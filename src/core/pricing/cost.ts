// What a task cost (issue 13 item 7): a provider-reported amount when there is one, else the
// price table applied to the task's usage, else the pool's flat fallback rate for budgets only.
// Pure: prices and usage come in as data; a missing price is a warning, never a failure.

/** A model's price in USD per million tokens (the config's price row or catalog pricing). */
export interface Price {
  input_per_mtok: number;
  /** Absent: cached input costs what fresh input costs. */
  cached_input_per_mtok?: number;
  output_per_mtok: number;
}

export interface PricedUsage {
  /** Input tokens, cached ones included (the engine's count, else the admission estimate). */
  inputTokens: number;
  /** Input tokens read from the prompt cache, when the engine reports them. */
  cachedInputTokens?: number;
  outputTokens: number;
  /** What the provider says the request cost in USD (OpenRouter `usage.cost`). */
  reportedUsd?: number;
}

export interface PricingInput {
  usage: PricedUsage;
  /** The price found for the task's model, if any. */
  price: Price | undefined;
  /** The model the price was looked up for, named in the warning when there is none. */
  model: string;
  /** The pool's `cost_per_1k_tokens`: what session budgets are charged when nothing is priced. */
  fallbackPer1kTokens: number;
}

/** `reported` (the provider's figure) wins over `price_table`; `unpriced` has no USD amount. */
export type CostSource = 'reported' | 'price_table';

export type TaskCost =
  | { source: CostSource; usd: number; budget: number }
  | { source: 'unpriced'; budget: number; warning: string };

const PER_MTOK = 1_000_000;

export function taskCost(input: PricingInput): TaskCost {
  const { usage, price } = input;
  const reported = usage.reportedUsd;
  if (reported !== undefined && Number.isFinite(reported) && reported >= 0) return { source: 'reported', usd: reported, budget: reported };
  if (price) {
    const usd = priceUsage(price, usage);
    return { source: 'price_table', usd, budget: usd };
  }
  const tokens = usage.inputTokens + usage.outputTokens;
  return { source: 'unpriced', budget: (tokens * input.fallbackPer1kTokens) / 1000, warning: `no price for model ${input.model}` };
}

/**
 * Input not read from the cache at the input price, cached input at the cached price, output at
 * the output price. An engine that reports more cached tokens than input tokens is believed for
 * the input count: the excess cannot have been read, so it is not billed.
 */
export function priceUsage(price: Price, usage: PricedUsage): number {
  const cached = Math.min(usage.cachedInputTokens ?? 0, usage.inputTokens);
  const fresh = usage.inputTokens - cached;
  const cachedRate = price.cached_input_per_mtok ?? price.input_per_mtok;
  return (fresh * price.input_per_mtok + cached * cachedRate + usage.outputTokens * price.output_per_mtok) / PER_MTOK;
}

/**
 * The price for a pool's model: the first name (engine model, then client model) with a row in
 * the price table, else with catalog pricing. Undefined when none has a price.
 */
export function findPrice(
  names: readonly string[],
  table: readonly (Price & { model: string })[],
  catalog: readonly { id: string; pricing?: Price }[],
): { model: string; price: Price } | undefined {
  for (const name of names) {
    const row = table.find((r) => r.model === name);
    if (row) return { model: name, price: row };
  }
  for (const name of names) {
    const entry = catalog.find((e) => e.id === name && e.pricing !== undefined);
    if (entry?.pricing) return { model: name, price: entry.pricing };
  }
  return undefined;
}
