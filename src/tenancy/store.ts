// The tenancy store port: tenants, API keys (hashes only) and budget-period usage, in the same
// database as the audit (migrations/0003_tenants.sql: mutable tables, unlike audit_log), or in
// memory when audit is off. Async: it is read at start and on admin calls, never per request.

import type { QuotaLimits } from '../core/tenancy/limits.ts';
import type { Scope } from '../core/tenancy/principal.ts';

export interface TenantRecord {
  id: string;
  /** Share of each queue class among tenants with waiting work (fairness weight). */
  weight: number;
  limits: QuotaLimits;
  created_at: Date;
  updated_at: Date;
}

export interface KeyRecord {
  id: string;
  tenant_id: string;
  name: string | null;
  scopes: Scope[];
  /** sha256 hex of the key; the key itself is never stored. */
  hash: string;
  prefix: string;
  limits: QuotaLimits;
  expires_at: Date | null;
  revoked_at: Date | null;
  created_at: Date;
  created_by: string;
}

export interface PeriodUsage {
  subject: string;
  period_start: Date;
  tokens: number;
  cost: number;
}

export interface TenantStore {
  /** False when the id is taken. */
  createTenant(t: TenantRecord): Promise<boolean>;
  updateTenant(id: string, patch: { weight?: number; limits?: QuotaLimits }, at: Date): Promise<TenantRecord | undefined>;
  listTenants(): Promise<TenantRecord[]>;
  createKey(k: KeyRecord): Promise<void>;
  updateKey(id: string, patch: { limits?: QuotaLimits; expires_at?: Date | null; name?: string | null }): Promise<KeyRecord | undefined>;
  /** Sets revoked_at once; answers the key (already revoked keys keep their first revocation). */
  revokeKey(id: string, at: Date): Promise<KeyRecord | undefined>;
  listKeys(): Promise<KeyRecord[]>;
  /** Adds to a period's totals (write-behind from settled tasks). */
  addUsage(u: PeriodUsage): Promise<void>;
  /** Totals of periods starting at or after `since`. */
  usageSince(since: Date): Promise<PeriodUsage[]>;
}
