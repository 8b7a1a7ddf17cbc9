import { describe, expect, it } from 'vitest';
import { validateConfig } from '../config/load.ts';
import { applyLiveSettings, invalidConfig } from './config-reload.ts';
import type { Config } from '../config/schema.ts';

function config(over: Record<string, unknown> = {}): Config {
  const result = validateConfig({ pools: [{ id: 'p', engine: 'mock', model: 'm', replicas: [{ id: 'a' }] }], ...over });
  if (!result.ok) throw new Error(result.problems.join('; '));
  return result.config;
}

describe('applyLiveSettings', () => {
  it('copies the live server keys and the pools, and lists what needs a restart', () => {
    const running = config();
    const serverBefore = running.server;
    const next = config({
      server: { port: 9999, retention_ms: 5, max_tokens_limit: 64, retention_max_bytes: 1_024, max_finished_tasks: 3, orphan_grace_ms: 0 },
      auth: { control_tokens: ['a-long-token'] },
      pools: [{ id: 'q', engine: 'mock', model: 'q', replicas: [{ id: 'b' }] }],
    });
    const restart = applyLiveSettings(running, next);
    expect(restart.sort()).toEqual(['auth.control_tokens', 'server.port']);
    expect(running.server).toBe(serverBefore);
    expect(running.server).toMatchObject({ port: 8080, retention_ms: 5, max_tokens_limit: 64, retention_max_bytes: 1_024, max_finished_tasks: 3, orphan_grace_ms: 0 });
    expect(running.pools.map((p) => p.id)).toEqual(['q']);
  });
});

describe('invalidConfig', () => {
  it('lists every problem and names the first bad key as a dotted path', () => {
    const error = invalidConfig(['/pools/0/engine must be equal to one of the allowed values', '/pools/p: duplicate replica id a']);
    expect(error).toMatchObject({ code: 'INVALID_PARAMS', field: 'pools.0.engine' });
    expect(error.message).toContain('duplicate replica id a');
    expect(invalidConfig(['/pools/p: duplicate replica id a']).field).toBe('pools.p');
    expect(invalidConfig(['ENOENT: no such file']).field).toBeUndefined();
  });
});
