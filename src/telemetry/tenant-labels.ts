// The `tenant` metric label, bounded by config (issue 12, ORCH-0801): a tenant keeps its id as
// its label value only if it is listed in `telemetry.tenant_labels` or among the first tenants
// seen while fewer than `telemetry.max_tenant_labels` ids are labelled; every other is `other`.

/** The label value for work whose tenant is not known (refused before authentication). */
export const NO_TENANT_LABEL = 'none';
export const OTHER_TENANT_LABEL = 'other';

export interface TenantLabelOptions {
  /** Tenants that always keep their id (config guarantees listed.length <= max). */
  listed: readonly string[];
  max: number;
}

export class TenantLabels {
  /** Tenant id → label value (the id itself); never more than `max` entries. */
  readonly #labelled = new Map<string, string>();
  readonly #max: number;

  constructor(opts: TenantLabelOptions) {
    // validateConfig refuses this; reaching it means a wiring bug.
    if (opts.listed.length > opts.max) throw new RangeError(`TenantLabels: ${opts.listed.length} listed tenants exceed max ${opts.max}`);
    this.#max = opts.max;
    for (const tenant of opts.listed) this.#labelled.set(tenant, tenant);
  }

  /** Allocation-free once a tenant has been seen: one Map read. */
  of(tenant: string | undefined): string {
    if (tenant === undefined) return NO_TENANT_LABEL;
    const known = this.#labelled.get(tenant);
    if (known !== undefined) return known;
    if (this.#labelled.size >= this.#max) return OTHER_TENANT_LABEL;
    this.#labelled.set(tenant, tenant);
    return tenant;
  }
}
