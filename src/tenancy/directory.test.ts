import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../test/support/fake-clock.ts';
import { TenantDirectory } from './directory.ts';
import { MemoryTenantStore } from './memory-store.ts';

async function directory(clock = new FakeClock(), tokens = { data: ['data-token-1'], control: ['control-token-1'] }) {
  let n = 0;
  const dir = await TenantDirectory.open({ store: new MemoryTenantStore(), clock, ids: { uuid: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}` }, tokens, defaultTenant: { weight: 1, limits: {} } });
  return { dir, clock };
}

describe('TenantDirectory', () => {
  // ORCH-1200
  it('maps static data tokens to tasks+models and control tokens to every scope, both in the default tenant', async () => {
    const { dir } = await directory();
    const data = dir.authenticate('data-token-1');
    const control = dir.authenticate('control-token-1');
    expect(data.kind === 'principal' && [...data.principal.scopes]).toEqual(['tasks', 'models']);
    expect(data.kind === 'principal' && data.principal.tenant).toBe('default');
    expect(control.kind === 'principal' && [...control.principal.scopes].sort()).toEqual(['admin', 'audit', 'control', 'models', 'tasks']);
    expect(dir.authenticate('data-token-2').kind).toBe('unknown');
  });

  // ORCH-1202
  it('keeps only the hash: no record or view holds the key', async () => {
    const { dir } = await directory();
    await dir.createTenant({ id: 'team-a' });
    const created = await dir.createKey({ tenant_id: 'team-a', scopes: ['tasks'] }, 'token:x');
    if (!created.ok) throw new Error(created.error.message);
    const { secret, key } = created.value;
    expect(secret).toMatch(/^oq_[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(dir.listKeys())).not.toContain(secret);
    expect(JSON.stringify(key)).not.toContain(secret.slice(3));
    expect(secret.startsWith(key.prefix)).toBe(true);
  });

  // ORCH-1204
  it('refuses a revoked key from the revoke on, and an expired key from its expiry instant', async () => {
    const { dir, clock } = await directory();
    await dir.createTenant({ id: 'team-a' });
    const a = await dir.createKey({ tenant_id: 'team-a', scopes: ['tasks'] }, 'token:x');
    const b = await dir.createKey({ tenant_id: 'team-a', scopes: ['tasks'], expires_at: new Date(clock.now() + 10_000) }, 'token:x');
    if (!a.ok || !b.ok) throw new Error('create failed');
    expect(dir.authenticate(a.value.secret)).toMatchObject({ kind: 'principal', principal: { tenant: 'team-a', keyId: `key:${a.value.key.id}` } });
    const revoking = dir.revokeKey(a.value.key.id);
    // Refused before the store write has even resolved.
    expect(dir.authenticate(a.value.secret).kind).toBe('unknown');
    expect((await revoking).ok).toBe(true);
    clock.advance(9_999);
    expect(dir.authenticate(b.value.secret).kind).toBe('principal');
    clock.advance(1);
    expect(dir.authenticate(b.value.secret).kind).toBe('unknown');
  });

  it('refuses a key for an unknown tenant, an expiry in the past, and changes to a revoked key', async () => {
    const { dir, clock } = await directory();
    expect(await dir.createKey({ tenant_id: 'nobody', scopes: ['tasks'] }, 'x')).toMatchObject({ ok: false, error: { code: 'INVALID_PARAMS', field: 'tenant_id' } });
    await dir.createTenant({ id: 'team-a' });
    expect(await dir.createKey({ tenant_id: 'team-a', scopes: ['tasks'], expires_at: new Date(clock.now()) }, 'x')).toMatchObject({ ok: false, error: { field: 'expires_at' } });
    expect(await dir.createTenant({ id: 'team-a' })).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    const k = await dir.createKey({ tenant_id: 'team-a', scopes: ['tasks'] }, 'x');
    if (!k.ok) throw new Error('create failed');
    await dir.revokeKey(k.value.key.id);
    expect(await dir.updateKey(k.value.key.id, { limits: { requests_per_min: 1 } })).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    expect(await dir.updateTenant('default', { weight: 2 })).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
  });

  it('keeps a scope closed once a key has granted it, even after that key expires', async () => {
    const { dir, clock } = await directory(new FakeClock(), { data: [], control: [] });
    expect(dir.isOpen('tasks')).toBe(true);
    await dir.createTenant({ id: 'team-a' });
    const k = await dir.createKey({ tenant_id: 'team-a', scopes: ['tasks'], expires_at: new Date(clock.now() + 1_000) }, 'x');
    expect(k.ok).toBe(true);
    expect(dir.isOpen('tasks')).toBe(false);
    expect(dir.isOpen('admin')).toBe(true);
    clock.advance(1_000);
    // The key expired: the plane must not reopen to anonymous callers.
    expect(dir.isOpen('tasks')).toBe(false);
  });
});

describe('TenantDirectory.subjectsOf', () => {
  const ids = () => {
    let n = 0;
    return { uuid: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}` };
  };
  const open = (store: MemoryTenantStore) =>
    TenantDirectory.open({ store, clock: new FakeClock(), ids: ids(), tokens: { data: [], control: [] }, defaultTenant: { weight: 1, limits: {} } });

  it('answers from what the directory holds now, after every kind of change to it', async () => {
    const dir = await open(new MemoryTenantStore());
    const owner = { tenant: 'team-a', keyId: 'key:k_00000000000040008000000000000001' };
    expect(dir.subjectsOf(owner)).toEqual([{ subject: 'tenant:team-a', limits: {} }]);
    await dir.createTenant({ id: 'team-a', limits: { requests_per_min: 5 } });
    expect(dir.subjectsOf(owner)).toEqual([{ subject: 'tenant:team-a', limits: { requests_per_min: 5 } }]);
    await dir.updateTenant('team-a', { limits: { requests_per_min: 6 } });
    expect(dir.subjectsOf(owner)).toEqual([{ subject: 'tenant:team-a', limits: { requests_per_min: 6 } }]);
    const created = await dir.createKey({ tenant_id: 'team-a', scopes: ['tasks'], limits: { max_sessions: 2 } }, 'token:x');
    if (!created.ok) throw new Error(created.error.message);
    expect(`key:${created.value.key.id}`).toBe(owner.keyId);
    const withKey = [{ subject: 'tenant:team-a', limits: { requests_per_min: 6 } }, { subject: owner.keyId, limits: { max_sessions: 2 } }];
    expect(dir.subjectsOf(owner)).toEqual(withKey);
    // The same key id under another tenant is that tenant's answer, not the cached one.
    expect(dir.subjectsOf({ ...owner, tenant: 'team-b' })).toEqual([{ subject: 'tenant:team-b', limits: {} }, { subject: owner.keyId, limits: { max_sessions: 2 } }]);
    expect(dir.subjectsOf(owner)).toEqual(withKey);
    await dir.updateKey(created.value.key.id, { limits: {} });
    expect(dir.subjectsOf(owner)).toEqual([{ subject: 'tenant:team-a', limits: { requests_per_min: 6 } }]);
    await dir.updateKey(created.value.key.id, { limits: { max_sessions: 3 } });
    expect(dir.subjectsOf(owner)).toEqual([withKey[0], { subject: owner.keyId, limits: { max_sessions: 3 } }]);
  });

  it('answers with what another replica changed once the directory reloads', async () => {
    const store = new MemoryTenantStore();
    const here = await open(store);
    const there = await open(store);
    const owner = { tenant: 'team-a', keyId: 'key:k_00000000000040008000000000000001' };
    expect(here.subjectsOf(owner)).toEqual([{ subject: 'tenant:team-a', limits: {} }]);
    await there.createTenant({ id: 'team-a', limits: { tokens_per_min: 100 } });
    await there.createKey({ tenant_id: 'team-a', scopes: ['tasks'], limits: { max_concurrent_tasks: 1 } }, 'token:x');
    await here.reload();
    expect(here.subjectsOf(owner)).toEqual([{ subject: 'tenant:team-a', limits: { tokens_per_min: 100 } }, { subject: owner.keyId, limits: { max_concurrent_tasks: 1 } }]);
    await there.updateTenant('team-a', { limits: {} });
    await here.reload();
    expect(here.subjectsOf(owner)[0]).toEqual({ subject: 'tenant:team-a', limits: {} });
  });
});
