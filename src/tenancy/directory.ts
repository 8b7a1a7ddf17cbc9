// The tenant directory: credentials → principals on the request path, and the admin actions on
// tenants and keys (ORCH-1200..1204). The request path is synchronous and cheap: a presented
// key is hashed once and looked up in an in-memory map of live key hashes, loaded at start and
// kept current by this gateway's admin actions; a revoked key leaves the map before the revoke
// is even written, and an expired key is refused at the first request past its expiry.

import { createHash } from 'node:crypto';
import { fail, ok, orchError, type Result } from '../core/errors.ts';
import type { Clock, IdSource } from '../core/ports.ts';
import type { QuotaLimits } from '../core/tenancy/limits.ts';
import { CONTROL_TOKEN_SCOPES, DATA_TOKEN_SCOPES, DEFAULT_TENANT, type Principal, type Scope } from '../core/tenancy/principal.ts';
import { hashKey, newKeyMaterial } from './key-material.ts';
import type { KeyRecord, TenantRecord, TenantStore } from './store.ts';

export interface StaticTokens {
  data: readonly string[];
  control: readonly string[];
}

export interface DirectoryDeps {
  store: TenantStore;
  clock: Clock;
  ids: IdSource;
  tokens: StaticTokens;
  /** The default tenant's weight and limits, from config (the tenant of static tokens). */
  defaultTenant: { weight: number; limits: QuotaLimits };
  /**
   * Told after every tenant or key this directory changed in the store, so other gateway
   * replicas on the same store can `reload` (state.backend redis; src/state/redis/directory-sync.ts).
   */
  changed?: () => void;
}

/** A quota subject (`tenant:<id>`, or `key:<id>` when the key has its own limits) and its limits. */
export type Subject = Readonly<{ subject: string; limits: QuotaLimits }>;

export type Authenticated = { kind: 'principal'; principal: Principal } | { kind: 'unknown' };

/** A key as the admin API shows it: never the key, never its hash. */
export type KeyView = Omit<KeyRecord, 'hash'>;

export interface NewKey {
  tenant_id: string;
  scopes: Scope[];
  name?: string;
  expires_at?: Date;
  limits?: QuotaLimits;
}

const fingerprint = (token: string) => createHash('sha256').update(token).digest('hex');
const viewOf = ({ hash: _hash, ...view }: KeyRecord): KeyView => view;

export class TenantDirectory {
  readonly #deps: DirectoryDeps;
  readonly #tenants = new Map<string, TenantRecord>();
  readonly #keys = new Map<string, KeyRecord>();
  /** Live (unrevoked) key hashes → key; an expired key is dropped when presented. */
  readonly #byHash = new Map<string, KeyRecord>();
  /** Static tokens by their sha256: a map read compares digests, never the tokens themselves. */
  readonly #static = new Map<string, Principal>();
  /**
   * Scopes some token or key has ever granted: closed for good. Revoking or expiring the last
   * key never reopens a plane to anonymous callers.
   */
  readonly #closed = new Set<Scope>();
  /** Counts this directory's own changes, so a reload racing one can tell. */
  #generation = 0;
  /** `subjectsOf` answers by key id, built once per caller; emptied whenever a tenant or key changes here. */
  readonly #subjects = new Map<string, { tenant: string; subjects: readonly Subject[] }>();

  private constructor(deps: DirectoryDeps) {
    this.#deps = deps;
    const add = (token: string, scopes: readonly Scope[]) => {
      const digest = fingerprint(token);
      // A token listed as both data and control keeps the wider scopes.
      if (this.#static.get(digest)?.scopes.has('control')) return;
      this.#static.set(digest, { tenant: DEFAULT_TENANT, keyId: `token:${digest.slice(0, 12)}`, scopes: new Set(scopes) });
    };
    for (const t of deps.tokens.data) add(t, DATA_TOKEN_SCOPES);
    for (const t of deps.tokens.control) add(t, CONTROL_TOKEN_SCOPES);
  }

  /** Loads tenants and keys, and writes the default tenant from config (config wins for it). */
  static async open(deps: DirectoryDeps): Promise<TenantDirectory> {
    const dir = new TenantDirectory(deps);
    const now = new Date(deps.clock.now());
    const { weight, limits } = deps.defaultTenant;
    const created = await deps.store.createTenant({ id: DEFAULT_TENANT, weight, limits, created_at: now, updated_at: now });
    if (!created) await deps.store.updateTenant(DEFAULT_TENANT, { weight, limits }, now);
    await dir.reload();
    return dir;
  }

  /**
   * Reads every tenant and key from the store again: another replica changed them. A key
   * revoked there leaves the lookup map here; one created there is accepted here from now on.
   */
  async reload(): Promise<void> {
    // A change made here while the store was read may be missing from what was read: read again
    // rather than put an older record back over it.
    for (let attempt = 0; ; attempt++) {
      const generation = this.#generation;
      const [tenants, keys] = await Promise.all([this.#deps.store.listTenants(), this.#deps.store.listKeys()]);
      if (generation !== this.#generation && attempt < 3) continue;
      for (const t of tenants) this.#tenants.set(t.id, t);
      for (const k of keys) this.#remember(k);
      this.#subjects.clear();
      return;
    }
  }

  #changed(): void {
    this.#subjects.clear();
    this.#generation++;
    this.#deps.changed?.();
  }

  /** Resolves a presented credential; revoked, expired and unknown keys are all `unknown`. */
  authenticate(token: string): Authenticated {
    const fixed = this.#static.get(fingerprint(token));
    if (fixed) return { kind: 'principal', principal: fixed };
    const key = this.#byHash.get(hashKey(token));
    if (!key) return { kind: 'unknown' };
    if (key.expires_at !== null && key.expires_at.getTime() <= this.#deps.clock.now()) {
      this.#byHash.delete(key.hash);
      return { kind: 'unknown' };
    }
    return { kind: 'principal', principal: { tenant: key.tenant_id, keyId: `key:${key.id}`, scopes: new Set(key.scopes) } };
  }

  /**
   * No static token and no key, ever, has granted `scope`: the plane is open (anonymous, default
   * tenant). Once one has, it stays closed even after that key is revoked or expires.
   */
  isOpen(scope: Scope): boolean {
    if (this.#closed.has(scope)) return false;
    for (const p of this.#static.values()) if (p.scopes.has(scope)) return false;
    return true;
  }

  tenant(id: string): TenantRecord | undefined {
    return this.#tenants.get(id);
  }

  /** The limits that apply to a principal: its tenant's, then its key's when it has its own. */
  subjectsOf(p: Pick<Principal, 'tenant' | 'keyId'>): readonly Subject[] {
    const cached = this.#subjects.get(p.keyId);
    if (cached?.tenant === p.tenant) return cached.subjects;
    const subjects = [{ subject: `tenant:${p.tenant}`, limits: this.#tenants.get(p.tenant)?.limits ?? {} }];
    const key = p.keyId.startsWith('key:') ? this.#keys.get(p.keyId.slice(4)) : undefined;
    if (key && Object.keys(key.limits).length > 0) subjects.push({ subject: p.keyId, limits: key.limits });
    this.#subjects.set(p.keyId, { tenant: p.tenant, subjects });
    return subjects;
  }

  weightOf(tenant: string): number {
    return this.#tenants.get(tenant)?.weight ?? 1;
  }

  listTenants(): TenantRecord[] {
    return [...this.#tenants.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  async createTenant(input: { id: string; weight?: number; limits?: QuotaLimits }): Promise<Result<TenantRecord>> {
    const now = new Date(this.#deps.clock.now());
    const record: TenantRecord = { id: input.id, weight: input.weight ?? 1, limits: input.limits ?? {}, created_at: now, updated_at: now };
    if (this.#tenants.has(input.id) || !(await this.#deps.store.createTenant(record))) {
      return fail(orchError('CONFLICT', `tenant ${input.id} already exists`, { field: 'id' }));
    }
    this.#tenants.set(record.id, record);
    this.#changed();
    return ok(record);
  }

  async updateTenant(id: string, patch: { weight?: number; limits?: QuotaLimits }): Promise<Result<TenantRecord>> {
    if (id === DEFAULT_TENANT) {
      return fail(orchError('CONFLICT', `tenant ${DEFAULT_TENANT} is configured by tenancy.default_tenant in the config file`, { field: 'tenant_id' }));
    }
    if (!this.#tenants.has(id)) return fail(unknownTenant(id));
    const updated = await this.#deps.store.updateTenant(id, patch, new Date(this.#deps.clock.now()));
    if (!updated) return fail(unknownTenant(id));
    this.#tenants.set(id, updated);
    this.#changed();
    return ok(updated);
  }

  /** A new key: the secret is in the answer once and nowhere else. */
  async createKey(input: NewKey, createdBy: string): Promise<Result<{ key: KeyView; secret: string }>> {
    if (!this.#tenants.has(input.tenant_id)) return fail(orchError('INVALID_PARAMS', `unknown tenant ${input.tenant_id}`, { field: 'tenant_id' }));
    const now = this.#deps.clock.now();
    if (input.expires_at !== undefined && input.expires_at.getTime() <= now) {
      return fail(orchError('INVALID_PARAMS', 'expires_at must be in the future', { field: 'expires_at' }));
    }
    const material = newKeyMaterial();
    const record: KeyRecord = {
      id: `k_${this.#deps.ids.uuid().replaceAll('-', '')}`,
      tenant_id: input.tenant_id,
      name: input.name ?? null,
      scopes: [...new Set(input.scopes)],
      hash: material.hash,
      prefix: material.prefix,
      limits: input.limits ?? {},
      expires_at: input.expires_at ?? null,
      revoked_at: null,
      created_at: new Date(now),
      created_by: createdBy,
    };
    await this.#deps.store.createKey(record);
    this.#remember(record);
    this.#changed();
    return ok({ key: viewOf(record), secret: material.secret });
  }

  listKeys(tenant?: string): KeyView[] {
    return [...this.#keys.values()].filter((k) => tenant === undefined || k.tenant_id === tenant).map(viewOf);
  }

  getKey(id: string): KeyView | undefined {
    const k = this.#keys.get(id);
    return k ? viewOf(k) : undefined;
  }

  async updateKey(id: string, patch: { limits?: QuotaLimits; expires_at?: Date | null; name?: string | null }): Promise<Result<KeyView>> {
    const current = this.#keys.get(id);
    if (!current) return fail(unknownKey(id));
    if (current.revoked_at !== null) return fail(orchError('CONFLICT', `key ${id} is revoked`, { field: 'key_id' }));
    if (patch.expires_at instanceof Date && patch.expires_at.getTime() <= this.#deps.clock.now()) {
      return fail(orchError('INVALID_PARAMS', 'expires_at must be in the future (revoke the key to end it now)', { field: 'expires_at' }));
    }
    const updated = await this.#deps.store.updateKey(id, patch);
    if (!updated) return fail(unknownKey(id));
    this.#remember(updated);
    this.#changed();
    return ok(viewOf(updated));
  }

  /** Refused from this call on: the key leaves the lookup map before the store is written. */
  async revokeKey(id: string): Promise<Result<KeyView>> {
    const current = this.#keys.get(id);
    if (!current) return fail(unknownKey(id));
    this.#byHash.delete(current.hash);
    const revoked = await this.#deps.store.revokeKey(id, new Date(this.#deps.clock.now()));
    if (!revoked) return fail(unknownKey(id));
    this.#remember(revoked);
    this.#changed();
    return ok(viewOf(revoked));
  }

  #remember(k: KeyRecord): void {
    this.#keys.set(k.id, k);
    for (const scope of k.scopes) this.#closed.add(scope);
    if (k.revoked_at === null) this.#byHash.set(k.hash, k);
    else this.#byHash.delete(k.hash);
  }
}

const unknownTenant = (id: string) => orchError('NOT_FOUND', `unknown tenant ${id}`, { field: 'tenant_id' });
const unknownKey = (id: string) => orchError('NOT_FOUND', `unknown key ${id}`, { field: 'key_id' });
