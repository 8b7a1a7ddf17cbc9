// Which hash chain this gateway writes (issue 15): with state.backend redis several replicas share
// one server Postgres, each on its own chain named by its replica id; with state.backend memory a
// gateway is one writer on the default chain, and a second process on the same database is
// refused by the chain's writer lock (chain-lock.ts).

import type { StateConfig } from '../config/schema.ts';
import { replicaIdOf } from '../state/replica-id.ts';
import { DEFAULT_CHAIN } from './hash-chain.ts';

export function auditChainOf(state: Pick<StateConfig, 'backend' | 'replica_id'>): string {
  return state.backend === 'redis' ? replicaIdOf(state) : DEFAULT_CHAIN;
}
