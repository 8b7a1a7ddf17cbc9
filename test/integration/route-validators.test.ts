// Route validators are compiled by each route's first request, not at start (issue 14: compiling
// every route's schemas grew the idle gateway's young generation, docs/operations.md "Memory").

import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it, vi } from 'vitest';
import { startGateway, testConfig } from '../support/gateway.ts';

describe('route validators', () => {
  it('are compiled by a route\'s first request, not at start, and still refuse a bad body', async () => {
    const compile = vi.spyOn(Ajv2020.prototype, 'compile');
    const gw = await startGateway(testConfig());
    try {
      expect(compile).not.toHaveBeenCalled();
      const res = await gw.post('/v1/tasks', { model: 'demo', prompt: 'x', max_tokens: 'many' });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'INVALID_PARAMS' } });
      expect(compile).toHaveBeenCalled();
    } finally {
      compile.mockRestore();
      await gw.close();
    }
  });
});
