// TenantStore over the audit database (server Postgres, or PGlite through the audit worker):
// the tables of migrations/0003_tenants.sql, reached through the audit store's `sql` seam so
// tenancy shares its connection, migrations and backend choice.

import type { QuotaLimits } from '../core/tenancy/limits.ts';
import { isScope, type Scope } from '../core/tenancy/principal.ts';
import type { SqlRunner } from '../audit/create-audit.ts';
import type { SqlRow } from '../audit/sql-driver.ts';
import type { KeyRecord, PeriodUsage, TenantRecord, TenantStore } from './store.ts';


const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : date(v));
// jsonb columns come back parsed; both drivers agree on that.
const limitsOf = (v: unknown): QuotaLimits => (typeof v === 'object' && v !== null ? (v as QuotaLimits) : {});

function tenantOf(r: SqlRow): TenantRecord {
  return { id: String(r.id), weight: Number(r.weight), limits: limitsOf(r.limits), created_at: date(r.created_at), updated_at: date(r.updated_at) };
}

function keyOf(r: SqlRow): KeyRecord {
  const scopes = Array.isArray(r.scopes) ? r.scopes.filter(isScope) : [];
  return {
    id: String(r.id), tenant_id: String(r.tenant_id), name: r.name === null ? null : String(r.name), scopes: scopes as Scope[],
    hash: String(r.key_hash), prefix: String(r.prefix), limits: limitsOf(r.limits),
    expires_at: dateOrNull(r.expires_at), revoked_at: dateOrNull(r.revoked_at), created_at: date(r.created_at), created_by: String(r.created_by),
  };
}

const TENANT_COLUMNS = 'id, weight, limits, created_at, updated_at';
const KEY_COLUMNS = 'id, tenant_id, name, scopes, key_hash, prefix, limits, expires_at, revoked_at, created_at, created_by';

export class SqlTenantStore implements TenantStore {
  readonly #sql: SqlRunner;

  constructor(sql: SqlRunner) {
    this.#sql = sql;
  }

  async createTenant(t: TenantRecord): Promise<boolean> {
    const rows = await this.#sql(
      `INSERT INTO tenants (${TENANT_COLUMNS}) VALUES ($1, $2, $3::jsonb, $4, $5) ON CONFLICT (id) DO NOTHING RETURNING id`,
      [t.id, t.weight, JSON.stringify(t.limits), t.created_at, t.updated_at],
    );
    return rows.length === 1;
  }

  async updateTenant(id: string, patch: { weight?: number; limits?: QuotaLimits }, at: Date): Promise<TenantRecord | undefined> {
    const [row] = await this.#sql(
      `UPDATE tenants SET weight = coalesce($2, weight), limits = coalesce($3::jsonb, limits), updated_at = $4 WHERE id = $1 RETURNING ${TENANT_COLUMNS}`,
      [id, patch.weight ?? null, patch.limits === undefined ? null : JSON.stringify(patch.limits), at],
    );
    return row === undefined ? undefined : tenantOf(row);
  }

  async listTenants(): Promise<TenantRecord[]> {
    return (await this.#sql(`SELECT ${TENANT_COLUMNS} FROM tenants ORDER BY id`)).map(tenantOf);
  }

  async createKey(k: KeyRecord): Promise<void> {
    await this.#sql(
      `INSERT INTO api_keys (${KEY_COLUMNS}) VALUES ($1, $2, $3, $4::text[], $5, $6, $7::jsonb, $8, $9, $10, $11)`,
      [k.id, k.tenant_id, k.name, k.scopes, k.hash, k.prefix, JSON.stringify(k.limits), k.expires_at, k.revoked_at, k.created_at, k.created_by],
    );
  }

  async updateKey(id: string, patch: { limits?: QuotaLimits; expires_at?: Date | null; name?: string | null }): Promise<KeyRecord | undefined> {
    const [row] = await this.#sql(
      `UPDATE api_keys SET limits = coalesce($2::jsonb, limits),
         expires_at = CASE WHEN $3 THEN $4::timestamptz ELSE expires_at END,
         name = CASE WHEN $5 THEN $6 ELSE name END
       WHERE id = $1 RETURNING ${KEY_COLUMNS}`,
      [id, patch.limits === undefined ? null : JSON.stringify(patch.limits), patch.expires_at !== undefined, patch.expires_at ?? null, patch.name !== undefined, patch.name ?? null],
    );
    return row === undefined ? undefined : keyOf(row);
  }

  async revokeKey(id: string, at: Date): Promise<KeyRecord | undefined> {
    const [row] = await this.#sql(`UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1 RETURNING ${KEY_COLUMNS}`, [id, at]);
    return row === undefined ? undefined : keyOf(row);
  }

  async listKeys(): Promise<KeyRecord[]> {
    return (await this.#sql(`SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_at, id`)).map(keyOf);
  }

  async addUsage(u: PeriodUsage): Promise<void> {
    await this.#sql(
      `INSERT INTO tenant_usage (subject, period_start, tokens, cost) VALUES ($1, $2, $3, $4)
       ON CONFLICT (subject, period_start) DO UPDATE SET tokens = tenant_usage.tokens + EXCLUDED.tokens, cost = tenant_usage.cost + EXCLUDED.cost`,
      [u.subject, u.period_start, Math.round(u.tokens), u.cost],
    );
  }

  async usageSince(since: Date): Promise<PeriodUsage[]> {
    const rows = await this.#sql('SELECT subject, period_start, tokens, cost FROM tenant_usage WHERE period_start >= $1', [since]);
    return rows.map((r) => ({ subject: String(r.subject), period_start: date(r.period_start), tokens: Number(r.tokens), cost: Number(r.cost) }));
  }
}
