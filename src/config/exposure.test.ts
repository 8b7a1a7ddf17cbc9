import { describe, expect, it } from 'vitest';
import { checkExposure, isLoopbackHost } from './exposure.ts';
import { DEFAULT_CONFIG_INPUT, validateConfig } from './load.ts';
import type { Config } from './schema.ts';

function config(over: Record<string, unknown>): Config {
  const result = validateConfig({ ...DEFAULT_CONFIG_INPUT, audit: { backend: 'off' }, ...over });
  if (!result.ok) throw new Error(result.problems.join('; '));
  return result.config;
}

describe('startup exposure check', () => {
  it.each(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1'])('treats %s as loopback', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });

  it.each(['0.0.0.0', '::', '10.0.0.5', 'gateway.internal', '::ffff:10.0.0.1'])('treats %s as reachable from other hosts', (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });

  it('refuses a public address without control tokens, also when data tokens exist', () => {
    for (const auth of [{}, { data_tokens: ['data-token-1'] }]) {
      const exposure = checkExposure(config({ server: { host: '0.0.0.0' }, auth }));
      expect(exposure.ok).toBe(false);
      if (!exposure.ok) expect(exposure.problem).toMatch(/control plane.*--insecure/);
    }
  });

  it('starts with a warning when the open control plane is explicitly allowed', () => {
    const exposure = checkExposure(config({ server: { host: '0.0.0.0', allow_open: true } }));
    expect(exposure).toEqual({ ok: true, warnings: [expect.stringMatching(/data plane is open/), expect.stringMatching(/control plane is open/)] });
  });

  it('starts silently on loopback, or on a public address with control tokens', () => {
    expect(checkExposure(config({}))).toEqual({ ok: true, warnings: [] });
    expect(checkExposure(config({ server: { host: '0.0.0.0' }, auth: { control_tokens: ['control-token-1'] } }))).toEqual({ ok: true, warnings: [] });
  });
});
