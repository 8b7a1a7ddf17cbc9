// Auth is attached per route when the route is added (issue 14): the scope check runs before a
// route's own onRequest hooks, in plugins registered after installAuth too, and public routes
// stay open. Real HTTP on an ephemeral port.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { staticDirectory } from '../../test/support/tenancy.ts';
import { installAuth, principalOf } from './auth.ts';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function start(seen: string[]): Promise<string> {
  app = Fastify();
  installAuth(app, await staticDirectory({ data: ['data-secret'], control: [] }));
  await app.register(async (group) => {
    group.route({
      method: 'GET',
      url: '/data',
      config: { plane: 'data', operationId: 'createTask' },
      onRequest: async (req) => {
        seen.push(`own hook as ${principalOf(req).keyId}`);
      },
      handler: async (req) => ({ key: principalOf(req).keyId }),
    });
    group.get('/open', { config: { plane: 'public' } }, async () => ({ open: true }));
  });
  return app.listen({ port: 0, host: '127.0.0.1' });
}

describe('route auth', () => {
  it('refuses a data route without a token before the route\'s own onRequest hook runs', async () => {
    const seen: string[] = [];
    const url = await start(seen);
    const res = await fetch(`${url}/data`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
    expect(seen).toEqual([]);
  });

  it('admits a valid data token, then runs the route\'s own hook with the principal already set', async () => {
    const seen: string[] = [];
    const url = await start(seen);
    const res = await fetch(`${url}/data`, { headers: { authorization: 'Bearer data-secret' } });
    expect(res.status).toBe(200);
    const { key } = (await res.json()) as { key: string };
    expect(key).toMatch(/^token:/);
    expect(seen).toEqual([`own hook as ${key}`]);
  });

  it('leaves a public route open with no token', async () => {
    const url = await start([]);
    const res = await fetch(`${url}/open`);
    expect([res.status, await res.json()]).toEqual([200, { open: true }]);
  });
});
