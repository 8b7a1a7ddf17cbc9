// Who is calling (ARCHITECTURE §9 "Tenants"): the tenant a credential belongs to, the key id
// (never the key), and the scopes it grants. Pure data; the shell resolves credentials to it.
// ORCH-1200, ORCH-1201.

export const SCOPES = ['tasks', 'models', 'control', 'audit', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** The tenant of static config tokens and of open (tokenless) planes. */
export const DEFAULT_TENANT = 'default';

/** Static data tokens reach the data plane; static control tokens reach everything. */
export const DATA_TOKEN_SCOPES: readonly Scope[] = ['tasks', 'models'];
export const CONTROL_TOKEN_SCOPES: readonly Scope[] = SCOPES;

export interface Principal {
  tenant: string;
  /** `key:<id>` for a managed key, `token:<fingerprint>` for a static token, `anonymous` when open. */
  keyId: string;
  scopes: ReadonlySet<Scope>;
}

/** Control and audit scopes see every tenant's tasks and sessions (ORCH-1205). */
export function seesAllTenants(p: Principal): boolean {
  return p.scopes.has('control') || p.scopes.has('audit');
}

/** Whether `p` may see a resource owned by `tenant`; other tenants get 404, never 403. */
export function mayAccess(p: Principal, tenant: string): boolean {
  return p.tenant === tenant || seesAllTenants(p);
}

export function isScope(value: unknown): value is Scope {
  return typeof value === 'string' && (SCOPES as readonly string[]).includes(value);
}
