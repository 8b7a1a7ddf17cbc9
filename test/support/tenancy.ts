// A tenant directory over static tokens only (in memory), for suites that mount route plugins
// in their own Fastify with the gateway's auth.

import { randomUUID } from 'node:crypto';
import type { Clock } from '../../src/core/ports.ts';
import { systemClock } from '../../src/system-clock.ts';
import { TenantDirectory, type StaticTokens } from '../../src/tenancy/directory.ts';
import { MemoryTenantStore } from '../../src/tenancy/memory-store.ts';

export function staticDirectory(tokens: StaticTokens, clock: Clock = systemClock): Promise<TenantDirectory> {
  return TenantDirectory.open({ store: new MemoryTenantStore(), clock, ids: { uuid: randomUUID }, tokens, defaultTenant: { weight: 1, limits: {} } });
}
