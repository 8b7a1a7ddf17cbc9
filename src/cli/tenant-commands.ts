// `orchqueue tenants ...` and `orchqueue keys ...` (ORCH-1203): one command per admin action,
// each one request to /v1/admin. Limits are given as JSON (`--limits '{"requests_per_min":60}'`,
// the contract's QuotaLimits); a new key's secret is printed once, with a note on stderr.

import type { components } from '../generated/api-types.ts';
import { intOption, stringOption, UsageError, type Command, type CommandContext } from './command.ts';
import { EXIT } from './exit-codes.ts';
import { printResult } from './output.ts';

type QuotaLimits = components['schemas']['QuotaLimits'];
type Scope = components['schemas']['Scope'];

const arg = (positionals: string[], i: number): string => positionals[i] ?? '';
const LIMITS = { type: 'string', value: 'json', description: 'quota limits as JSON, e.g. \'{"requests_per_min":60,"budget":{"period":"day","tokens":100000}}\'' } as const;

/** --limits as an object; the gateway validates its fields (and names a bad one). */
function limitsOption(ctx: CommandContext, command: Command): QuotaLimits | undefined {
  const raw = stringOption(ctx, 'limits');
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new UsageError('--limits must be a JSON object', command);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError('--limits must be a JSON object', command);
  // Its fields are checked by the gateway against the contract's QuotaLimits.
  return parsed as QuotaLimits;
}

export const tenantsList: Command = {
  name: 'tenants list',
  args: '',
  summary: 'List tenants with their weight and limits.',
  options: {},
  positionals: [],
  run: async ({ client, out }) => {
    printResult(out, { tenants: await client.listTenants() });
    return EXIT.OK;
  },
};

export const tenantsCreate: Command = {
  name: 'tenants create',
  args: '<tenant_id>',
  summary: 'Create a tenant, optionally with a fairness weight and quota limits.',
  options: { weight: { type: 'string', value: 'n', description: 'share of each queue class (default 1)' }, limits: LIMITS },
  positionals: ['tenant_id'],
  run: async (ctx) => {
    const weight = intOption(ctx, 'weight', tenantsCreate);
    const limits = limitsOption(ctx, tenantsCreate);
    printResult(ctx.out, await ctx.client.createTenant({ id: arg(ctx.positionals, 0), ...(weight !== undefined ? { weight } : {}), ...(limits ? { limits } : {}) }));
    return EXIT.OK;
  },
};

export const tenantsGet: Command = {
  name: 'tenants get',
  args: '<tenant_id>',
  summary: 'Show a tenant, its keys and its usage now (minute window, in flight, queued, sessions, budget period).',
  options: {},
  positionals: ['tenant_id'],
  run: async ({ client, out, positionals }) => {
    printResult(out, await client.getTenant(arg(positionals, 0)));
    return EXIT.OK;
  },
};

export const tenantsUpdate: Command = {
  name: 'tenants update',
  args: '<tenant_id>',
  summary: "Change a tenant's weight or limits (limits are replaced as a whole).",
  options: { weight: { type: 'string', value: 'n', description: 'share of each queue class' }, limits: LIMITS },
  positionals: ['tenant_id'],
  run: async (ctx) => {
    const weight = intOption(ctx, 'weight', tenantsUpdate);
    const limits = limitsOption(ctx, tenantsUpdate);
    if (weight === undefined && limits === undefined) throw new UsageError('give --weight or --limits', tenantsUpdate);
    printResult(ctx.out, await ctx.client.updateTenant(arg(ctx.positionals, 0), { ...(weight !== undefined ? { weight } : {}), ...(limits ? { limits } : {}) }));
    return EXIT.OK;
  },
};

export const keysList: Command = {
  name: 'keys list',
  args: '',
  summary: 'List API keys (id, prefix, scopes, limits, expiry, revocation); never the keys.',
  options: { tenant: { type: 'string', value: 'tenant_id', description: 'only keys of this tenant' } },
  positionals: [],
  run: async (ctx) => {
    printResult(ctx.out, { keys: await ctx.client.listKeys(stringOption(ctx, 'tenant')) });
    return EXIT.OK;
  },
};

export const keysCreate: Command = {
  name: 'keys create',
  args: '<tenant_id>',
  summary: 'Issue an API key for a tenant; the key is printed this once and cannot be shown again.',
  options: {
    scopes: { type: 'string', value: 'list', description: 'comma-separated: tasks, models, control, audit, admin (default tasks,models)' },
    name: { type: 'string', value: 'text', description: 'a label for operators' },
    'expires-at': { type: 'string', value: 'time', description: 'RFC 3339 instant after which the key is refused' },
    limits: LIMITS,
  },
  positionals: ['tenant_id'],
  run: async (ctx) => {
    const scopes = (stringOption(ctx, 'scopes') ?? 'tasks,models').split(',').map((s) => s.trim()).filter((s) => s !== '') as Scope[];
    const name = stringOption(ctx, 'name');
    const expiresAt = stringOption(ctx, 'expires-at');
    const limits = limitsOption(ctx, keysCreate);
    const created = await ctx.client.createKey({
      tenant_id: arg(ctx.positionals, 0), scopes,
      ...(name !== undefined ? { name } : {}), ...(expiresAt !== undefined ? { expires_at: expiresAt } : {}), ...(limits ? { limits } : {}),
    });
    printResult(ctx.out, created);
    ctx.out.note('orchqueue: store the key now; the gateway keeps only its hash and cannot show it again');
    return EXIT.OK;
  },
};

export const keysGet: Command = {
  name: 'keys get',
  args: '<key_id>',
  summary: 'Show an API key (never the key itself).',
  options: {},
  positionals: ['key_id'],
  run: async ({ client, out, positionals }) => {
    printResult(out, await client.getKey(arg(positionals, 0)));
    return EXIT.OK;
  },
};

export const keysUpdate: Command = {
  name: 'keys update',
  args: '<key_id>',
  summary: "Change a key's name, expiry (`--expires-at none` removes it) or limits.",
  options: {
    name: { type: 'string', value: 'text', description: 'a label for operators' },
    'expires-at': { type: 'string', value: 'time|none', description: 'RFC 3339 instant, or none' },
    limits: LIMITS,
  },
  positionals: ['key_id'],
  run: async (ctx) => {
    const name = stringOption(ctx, 'name');
    const expiresAt = stringOption(ctx, 'expires-at');
    const limits = limitsOption(ctx, keysUpdate);
    if (name === undefined && expiresAt === undefined && limits === undefined) throw new UsageError('give --name, --expires-at or --limits', keysUpdate);
    printResult(ctx.out, await ctx.client.updateKey(arg(ctx.positionals, 0), {
      ...(name !== undefined ? { name } : {}),
      ...(expiresAt !== undefined ? { expires_at: expiresAt === 'none' ? null : expiresAt } : {}),
      ...(limits ? { limits } : {}),
    }));
    return EXIT.OK;
  },
};

export const keysRevoke: Command = {
  name: 'keys revoke',
  args: '<key_id>',
  summary: 'Revoke an API key: refused from now on (it stays listed with revoked_at).',
  options: {},
  positionals: ['key_id'],
  run: async ({ client, out, positionals }) => {
    printResult(out, await client.revokeKey(arg(positionals, 0)));
    return EXIT.OK;
  },
};

export const TENANT_COMMANDS: Command[] = [tenantsList, tenantsCreate, tenantsGet, tenantsUpdate, keysList, keysCreate, keysGet, keysUpdate, keysRevoke];
