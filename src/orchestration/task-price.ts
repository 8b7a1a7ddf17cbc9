// The price a new task is charged at, looked up once at admission from the running config (a
// config reload changes the price of later tasks, never of one already admitted).

import type { Config, PoolConfig } from '../config/schema.ts';
import { findPrice } from '../core/pricing/cost.ts';
import type { TaskInit } from './task.ts';

/** The pool's engine model is what a provider bills, so its row wins over the client model's. */
export function priceOf(config: Config, pool: { config: PoolConfig }): Pick<TaskInit, 'price'> {
  const { engine_model, model } = pool.config;
  const names = engine_model !== undefined && engine_model !== model ? [engine_model, model] : [model];
  const found = findPrice(names, config.pricing, config.catalog);
  return found ? { price: found } : {};
}
