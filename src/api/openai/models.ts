// GET /v1/models (ORCH-1107): the model catalog in OpenAI's list format. Every pool model and
// alias, with what a client needs to choose (context length, engine, readiness, chat
// capabilities, price) under `orchqueue`, then catalog entries and listed models no pool serves.

import type { CatalogModel } from '../../core/catalog/merge.ts';
import type { Task } from '../../orchestration/task.ts';
import type { Pool } from '../../pool/pool.ts';

/** What every replica of the pool can do: a flag holds only when all of them have it. */
function poolFacts(pool: Pool<Task>) {
  const chats = pool.replicas.map((r) => r.adapter.capabilities.chat);
  const chat = chats.length > 0 && chats.every((c) => c !== undefined);
  const every = (flag: 'tools' | 'vision' | 'responseFormat' | 'logprobs') => chat && chats.every((c) => c?.[flag] === true);
  return {
    ready: pool.ready,
    capabilities: { chat, tools: every('tools'), vision: every('vision'), response_format: every('responseFormat'), logprobs: every('logprobs') },
  };
}

export function modelList(pools: readonly Pool<Task>[], catalog: readonly CatalogModel[]) {
  const byId = new Map(pools.map((p) => [p.id, p]));
  const data = catalog.map((m) => {
    const pool = m.pool_id !== undefined ? byId.get(m.pool_id) : undefined;
    const { id, ...extra } = m;
    return { id, object: 'model' as const, created: 0, owned_by: 'orchqueue', orchqueue: { ...extra, ...(pool ? poolFacts(pool) : {}) } };
  });
  return { object: 'list' as const, data };
}
