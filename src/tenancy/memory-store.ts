// The TenantStore when audit is off (the embedded default without a database, and tests):
// the same contract in maps, gone at exit.

import type { KeyRecord, PeriodUsage, TenantRecord, TenantStore } from './store.ts';

const copy = <T>(v: T): T => structuredClone(v);

export class MemoryTenantStore implements TenantStore {
  readonly #tenants = new Map<string, TenantRecord>();
  readonly #keys = new Map<string, KeyRecord>();
  readonly #usage = new Map<string, PeriodUsage>();

  async createTenant(t: TenantRecord): Promise<boolean> {
    if (this.#tenants.has(t.id)) return false;
    this.#tenants.set(t.id, copy(t));
    return true;
  }

  async updateTenant(id: string, patch: { weight?: number; limits?: TenantRecord['limits'] }, at: Date): Promise<TenantRecord | undefined> {
    const t = this.#tenants.get(id);
    if (!t) return undefined;
    if (patch.weight !== undefined) t.weight = patch.weight;
    if (patch.limits !== undefined) t.limits = copy(patch.limits);
    t.updated_at = at;
    return copy(t);
  }

  async listTenants(): Promise<TenantRecord[]> {
    return [...this.#tenants.values()].map(copy);
  }

  async createKey(k: KeyRecord): Promise<void> {
    this.#keys.set(k.id, copy(k));
  }

  async updateKey(id: string, patch: { limits?: KeyRecord['limits']; expires_at?: Date | null; name?: string | null }): Promise<KeyRecord | undefined> {
    const k = this.#keys.get(id);
    if (!k) return undefined;
    if (patch.limits !== undefined) k.limits = copy(patch.limits);
    if (patch.expires_at !== undefined) k.expires_at = patch.expires_at;
    if (patch.name !== undefined) k.name = patch.name;
    return copy(k);
  }

  async revokeKey(id: string, at: Date): Promise<KeyRecord | undefined> {
    const k = this.#keys.get(id);
    if (!k) return undefined;
    k.revoked_at ??= at;
    return copy(k);
  }

  async listKeys(): Promise<KeyRecord[]> {
    return [...this.#keys.values()].map(copy);
  }

  async addUsage(u: PeriodUsage): Promise<void> {
    const id = `${u.subject}\u0000${u.period_start.getTime()}`;
    const cur = this.#usage.get(id);
    if (cur) {
      cur.tokens += u.tokens;
      cur.cost += u.cost;
    } else {
      this.#usage.set(id, copy(u));
    }
  }

  async usageSince(since: Date): Promise<PeriodUsage[]> {
    return [...this.#usage.values()].filter((u) => u.period_start >= since).map(copy);
  }
}
