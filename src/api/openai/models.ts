// GET /v1/models (ORCH-1107): every pool model and alias in OpenAI's list format, with what a
// client needs to choose (context length, engine, readiness, chat capabilities) under
// `orchqueue`. Capabilities are what every replica of the pool can do.

import type { Task } from '../../orchestration/task.ts';
import type { Pool } from '../../pool/pool.ts';

export function modelList(pools: readonly Pool<Task>[]) {
  const data = [];
  for (const pool of pools) {
    if (pool.retired) continue;
    const chats = pool.replicas.map((r) => r.adapter.capabilities.chat);
    const chat = chats.length > 0 && chats.every((c) => c !== undefined);
    const every = (flag: 'tools' | 'vision' | 'responseFormat' | 'logprobs') => chat && chats.every((c) => c?.[flag] === true);
    const ctx = Math.max(0, ...pool.replicas.filter((r) => r.state === 'ready').map((r) => r.ctxMax));
    const extra = {
      pool_id: pool.id,
      engine: pool.config.engine,
      ...(ctx > 0 ? { context_length: ctx } : {}),
      ready: pool.ready,
      capabilities: { chat, tools: every('tools'), vision: every('vision'), response_format: every('responseFormat'), logprobs: every('logprobs') },
    };
    data.push({ id: pool.config.model, object: 'model' as const, created: 0, owned_by: 'orchqueue', orchqueue: extra });
    for (const alias of pool.config.aliases) {
      data.push({ id: alias, object: 'model' as const, created: 0, owned_by: 'orchqueue', orchqueue: { ...extra, alias_of: pool.config.model } });
    }
  }
  return { object: 'list' as const, data };
}
