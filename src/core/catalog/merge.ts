// The model catalog (issue 13 item 8): static-first. Pool models and aliases come first, then
// `catalog` config entries no pool serves, then ids a provider listed that nothing above names.
// A listing only ever adds ids: it never changes or repeats a static entry. Pure data in, data out.

import { findPrice, type Price } from '../pricing/cost.ts';

/** A model id a pool answers to, as the pool shell sees it now. */
export interface ServedModel {
  id: string;
  pool_id: string;
  engine: string;
  /** The pool's model when `id` is one of its aliases. */
  alias_of?: string;
  /** What the pool sends to its engine (and what a provider bills). */
  engine_model: string;
  /** The largest context a ready replica reports. */
  context_length?: number;
}

export interface CatalogEntry {
  id: string;
  context_length?: number;
  description?: string;
  pricing?: Price;
}

/** Model ids one pool's provider listed (an adapter's optional `models()`). */
export interface Listing {
  pool_id: string;
  ids: readonly string[];
}

export interface CatalogInput {
  served: readonly ServedModel[];
  entries: readonly CatalogEntry[];
  /** The price table (config `pricing`). */
  prices: readonly (Price & { model: string })[];
  listings: readonly Listing[];
}

export interface CatalogModel {
  id: string;
  source: 'pool' | 'catalog' | 'listing';
  /** A pool answers to this id; anything else is refused at admission as an unknown model. */
  served: boolean;
  pool_id?: string;
  engine?: string;
  alias_of?: string;
  context_length?: number;
  description?: string;
  pricing?: Price & { currency: 'USD' };
  /** The pool whose provider listed this id. */
  listed_by?: string;
}

/** Only the price fields: a price table row also carries its `model`. */
const usd = (p: Price): Price & { currency: 'USD' } => ({
  input_per_mtok: p.input_per_mtok,
  ...(p.cached_input_per_mtok !== undefined ? { cached_input_per_mtok: p.cached_input_per_mtok } : {}),
  output_per_mtok: p.output_per_mtok,
  currency: 'USD',
});

export function mergeCatalog(input: CatalogInput): CatalogModel[] {
  const byId = new Map(input.entries.map((e) => [e.id, e]));
  const out: CatalogModel[] = [];
  const seen = new Set<string>();
  for (const s of input.served) {
    if (seen.has(s.id)) continue;
    seen.add(s.id);
    // An alias without its own entry is described by its pool model's entry.
    const entry = byId.get(s.id) ?? (s.alias_of !== undefined ? byId.get(s.alias_of) : undefined);
    const model = s.alias_of ?? s.id;
    const price = findPrice(s.engine_model !== model ? [s.engine_model, model] : [model], input.prices, input.entries);
    const context = entry?.context_length ?? s.context_length;
    out.push({
      id: s.id, source: 'pool', served: true, pool_id: s.pool_id, engine: s.engine,
      ...(s.alias_of !== undefined ? { alias_of: s.alias_of } : {}),
      ...(context !== undefined ? { context_length: context } : {}),
      ...(entry?.description !== undefined ? { description: entry.description } : {}),
      ...(price ? { pricing: usd(price.price) } : {}),
    });
  }
  for (const e of input.entries) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    const price = e.pricing ?? input.prices.find((p) => p.model === e.id);
    out.push({
      id: e.id, source: 'catalog', served: false,
      ...(e.context_length !== undefined ? { context_length: e.context_length } : {}),
      ...(e.description !== undefined ? { description: e.description } : {}),
      ...(price ? { pricing: usd(price) } : {}),
    });
  }
  // A pool's engine model is what its provider lists for it: already present as the pool's entry.
  const engineModels = new Set(input.served.map((s) => s.engine_model));
  for (const listing of input.listings) {
    for (const id of listing.ids) {
      if (seen.has(id) || engineModels.has(id)) continue;
      seen.add(id);
      out.push({ id, source: 'listing', served: false, listed_by: listing.pool_id });
    }
  }
  return out;
}
