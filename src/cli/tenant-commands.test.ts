// `orchqueue tenants` / `orchqueue keys` against the real gateway: every admin action, the key
// printed once, and bad input refused before any request.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../../test/support/cli-child.ts';
import { startGateway, testConfig, type TestGateway } from '../../test/support/gateway.ts';

const CONTROL = 'control-token-654321';

describe('orchqueue tenants and keys', () => {
  let gw: TestGateway;
  let env: Record<string, string>;
  beforeAll(async () => {
    gw = await startGateway(testConfig({ auth: { control_tokens: [CONTROL] } }));
    env = { ORCHQUEUE_URL: gw.url, ORCHQUEUE_TOKEN: CONTROL };
  });
  afterAll(() => gw.close());

  // ORCH-1203
  it('covers every admin action: create, list, get, update limits, issue, change and revoke a key', async () => {
    expect((await cli(['tenants', 'create', 'team-a', '--weight', '2', '--limits', '{"requests_per_min":60}', '--json'], env)).code).toBe(0);
    const listed = await cli(['tenants', 'list', '--json'], env);
    expect(JSON.parse(listed.stdout)).toMatchObject({ tenants: expect.arrayContaining([expect.objectContaining({ id: 'team-a', weight: 2, limits: { requests_per_min: 60 } })]) });
    const updated = await cli(['tenants', 'update', 'team-a', '--limits', '{"tokens_per_min":1000}', '--json'], env);
    expect(JSON.parse(updated.stdout)).toMatchObject({ limits: { tokens_per_min: 1000 } });
    const created = await cli(['keys', 'create', 'team-a', '--scopes', 'tasks', '--name', 'ci', '--json'], env);
    expect(created.code).toBe(0);
    expect(created.stderr).toContain('cannot show it again');
    const { key, secret } = JSON.parse(created.stdout) as { key: { id: string }; secret: string };
    const asKey = { ORCHQUEUE_URL: gw.url, ORCHQUEUE_TOKEN: secret };
    const minuteOf = (ms: number) => new Date(Math.floor(ms / 60_000) * 60_000).toISOString();
    const submitFrom = minuteOf(Date.now());
    expect((await cli(['submit', '--prompt', 'hi', '--max-tokens', '2', '--json'], asKey)).code).toBe(0);
    const submitTo = minuteOf(Date.now());
    expect((await cli(['pools'], asKey)).code).toBe(8);
    const shown = await cli(['keys', 'get', key.id], env);
    expect(shown.stdout).toContain(`id: ${key.id}`);
    expect(shown.stdout).not.toContain(secret);
    expect((await cli(['keys', 'list', '--tenant', 'team-a', '--json'], env)).stdout).not.toContain(secret);
    const changed = await cli(['keys', 'update', key.id, '--expires-at', '2099-01-01T00:00:00Z', '--json'], env);
    expect(JSON.parse(changed.stdout)).toMatchObject({ expires_at: '2099-01-01T00:00:00.000Z' });
    const detail = await cli(['tenants', 'get', 'team-a', '--json'], env);
    // Request counts live in fixed UTC minutes: the submit counts in its minute only (a slow run
    // can cross a minute boundary between the submit and this read).
    const detailed = JSON.parse(detail.stdout) as { tenant: unknown; usage: Array<{ subject: string; window_start: string; requests: number }> };
    expect(detailed).toMatchObject({ tenant: { id: 'team-a' }, usage: [{ subject: 'tenant:team-a' }] });
    const usage = detailed.usage[0]!;
    if (submitFrom === submitTo) expect(usage.requests).toBe(usage.window_start === submitFrom ? 1 : 0);
    expect((await cli(['keys', 'revoke', key.id], env)).code).toBe(0);
    expect((await cli(['submit', '--prompt', 'hi', '--max-tokens', '2'], asKey)).code).toBe(8);
  });

  it('refuses bad input: JSON limits, a missing change, an unknown tenant', async () => {
    const runs = await Promise.all([
      cli(['tenants', 'create', 'team-b', '--limits', '{nope'], env),
      cli(['tenants', 'update', 'team-b'], env),
      cli(['keys', 'create', 'nobody'], env),
      cli(['tenants', 'create', 'team-c', '--limits', '{"requests_per_min":-1}'], env),
      cli(['tenants', 'get', 'nobody'], env),
    ]);
    expect(runs.map((r) => r.code)).toEqual([2, 2, 3, 3, 4]);
  });
});
